import { existsSync, readdirSync, readFileSync } from 'node:fs';
import Redis from 'ioredis';
import { batchCountersIn, scrapeMetrics, sumSamples } from './metrics';
import type { RunningServer } from './processes';
import { launchBareServer } from './targets';

/** Helpers of the anomaly benchmark: its bare server, the app's own counters, and Redis. */

/**
 * Starts the bare anomaly server (anomaly-bare-server.ts) as a child process and resolves once it
 * has loaded, warmed up and answers on its port.
 */
export function startAnomalyBareServer(modelPath: string, options: { maxBatch?: number; maxDelayMs?: number } = {}): Promise<RunningServer> {
  return launchBareServer('anomaly-bare', 'anomaly-bare-server.ts', modelPath, options);
}

/** What a target has done so far, read before and after a measurement. */
export interface AnomalyCounters {
  /** ONNX runs and the rows they scored. */
  runs: number;
  rows: number;
  /** App only: transactions answered without history, not folded into it, and CAS conflicts met. */
  degraded?: number;
  foldSkipped?: number;
  casConflicts?: number;
}

export async function bareCounters(baseUrl: string): Promise<AnomalyCounters> {
  const res = await fetch(`${baseUrl}/stats`, { signal: AbortSignal.timeout(5_000) });
  const s = (await res.json()) as { runs: number; rows: number };
  return { runs: s.runs, rows: s.rows };
}

/** The app's counters from `GET /metrics` (undefined when a series is missing). */
export async function appCounters(baseUrl: string, model: string): Promise<AnomalyCounters | undefined> {
  const text = await scrapeMetrics(baseUrl);
  const batches = text === undefined ? undefined : batchCountersIn(text, model);
  if (text === undefined || batches === undefined) return undefined;
  return {
    runs: batches.count,
    rows: batches.sum,
    degraded: sumSamples(text, 'ml_anomaly_degraded_total') ?? 0,
    foldSkipped: sumSamples(text, 'ml_profile_fold_skipped_total') ?? 0,
    casConflicts: sumSamples(text, 'ml_profile_cas_conflicts_total') ?? 0,
  };
}

export function countersBetween(before: AnomalyCounters | undefined, after: AnomalyCounters | undefined): AnomalyCounters | undefined {
  if (!before || !after) return undefined;
  const d = (k: keyof AnomalyCounters) => (after[k] === undefined || before[k] === undefined ? undefined : (after[k] as number) - (before[k] as number));
  return { runs: after.runs - before.runs, rows: after.rows - before.rows, degraded: d('degraded'), foldSkipped: d('foldSkipped'), casConflicts: d('casConflicts') };
}

/** A short-lived client for the benchmark's own Redis work (never the app's connection). */
export async function connectRedis(url: string): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, enableOfflineQueue: false });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Keys under `prefix` (SCAN, never KEYS). */
export async function countKeys(client: Redis, prefix: string): Promise<number> {
  let n = 0;
  for await (const keys of client.scanStream({ match: `${globEscape(prefix)}*`, count: 1000 })) n += (keys as string[]).length;
  return n;
}

/** Deletes every key under `prefix` and nothing else; returns how many went. */
export async function deleteKeys(client: Redis, prefix: string): Promise<number> {
  if (!prefix) throw new Error('refusing to delete keys without a prefix');
  let n = 0;
  for await (const keys of client.scanStream({ match: `${globEscape(prefix)}*`, count: 1000 })) {
    const batch = (keys as string[]).filter((k) => k.startsWith(prefix));
    if (batch.length > 0) n += await client.unlink(...batch);
  }
  return n;
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Calls per Redis command (all clients: anything else using this Redis shows up too). */
export async function commandCalls(client: Redis): Promise<Record<string, number>> {
  const text = await client.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/**
 * Socket reads and writes Redis processed, and bytes it received (all clients). Reads per request
 * show the round trips: a pipeline of N commands arrives in a few reads, N awaited commands in N.
 */
export async function redisIo(client: Redis): Promise<{ reads: number; writes: number; inputBytes: number }> {
  const text = await client.info('stats');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { reads: field('total_reads_processed'), writes: field('total_writes_processed'), inputBytes: field('total_net_input_bytes') };
}

export function callsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/** The pid of a local `redis-server` (for its CPU use), when /proc shows exactly one. */
export function findRedisServerPid(): number | undefined {
  if (!existsSync('/proc')) return undefined;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'redis-server') found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found.length === 1 ? found[0] : undefined;
}

/**
 * Starts the fair anomaly baseline (anomaly-fair-server.ts: the app's work on node:http, see
 * there) as a child process and resolves once it answers on its port.
 */
export function startAnomalyFairServer(modelPath: string, options: { maxBatch?: number; maxDelayMs?: number } = {}): Promise<RunningServer> {
  return launchBareServer('anomaly-fair', 'anomaly-fair-server.ts', modelPath, options);
}
