// Helpers for this lib's specs (excluded from coverage): transactions, real apps on real ports,
// private redis-server processes.
import { Module, type DynamicModule } from '@nestjs/common';
import type { TransactionInput } from '@ml/anomaly-features';
import { loadServiceConfig } from '@ml/config';
import { loadInferenceConfig } from '@ml/inference';
import { createRedisClient, type Redis } from '@ml/redis';
import { CoreModule, startService, type RunningService } from '@ml/server';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { loadAnomalyConfig } from '../lib/anomaly.config';
import { ANOMALY_INFERENCE_DEFAULTS, ANOMALY_MODEL_NAME } from '../lib/anomaly.constants';
import { AnomalyModule } from '../lib/anomaly.module';
import { AnomalyService, type AnomalyOptions } from '../lib/anomaly.service';

export const MODEL_DIR = join(__dirname, '..', '..', '..', '..', 'models');
export const LONDON = { lat: 51.5072, lon: -0.1276 };
export const NEW_YORK = { lat: 40.7128, lon: -74.006 };
const DAY_MS = 86_400_000;

/** A deterministic pseudo-random source (Park–Miller), so histories are the same on every run. */
export function seeded(seed: number): () => number {
  let s = seed % 2147483647 || 1;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

/** Midnight UTC `days` before today, as epoch ms (timestamps stay in the past, as the rules require). */
export function daysAgo(days: number): number {
  const today = Date.now() - (Date.now() % DAY_MS);
  return today - days * DAY_MS;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function tx(overrides: Partial<TransactionInput> & { user_id: string; transaction_id: string }): TransactionInput {
  return {
    amount: 25,
    currency: 'GBP',
    timestamp: iso(daysAgo(1) + 11 * 3_600_000),
    merchant_category: 'grocery',
    channel: 'in_store',
    merchant_location: LONDON,
    home_location: LONDON,
    ...overrides,
  };
}

/** `count` everyday grocery purchases near home (GBP 20-60, 10:00-18:00 UTC) over the last ~60 days. */
export function groceryHistory(userId: string, count = 40, seed = 7): TransactionInput[] {
  const rnd = seeded(seed);
  const start = daysAgo(62);
  return Array.from({ length: count }, (_, i) => {
    const day = start + Math.floor((i * 60) / count) * DAY_MS;
    return tx({
      transaction_id: `${userId}-h${i}`,
      user_id: userId,
      amount: Math.round((20 + rnd() * 40) * 100) / 100,
      timestamp: iso(day + (10 + rnd() * 8) * 3_600_000),
      merchant_location: { lat: LONDON.lat + (rnd() - 0.5) * 0.05, lon: LONDON.lon + (rnd() - 0.5) * 0.05 },
    });
  });
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function http(url: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(url, { method: body !== undefined ? 'POST' : 'GET', headers, body });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

export interface TestApp extends RunningService {
  service: AnomalyService;
  logs: string[];
  stop(): Promise<void>;
}

/**
 * The anomaly detector as the app composes it (CoreModule + AnomalyModule), listening on a free
 * port of 127.0.0.1. `env` is read exactly as the process reads its environment.
 */
export async function startAnomalyApp(
  env: Record<string, string> = {},
  extra: Partial<Pick<AnomalyOptions, 'redis' | 'profileStore' | 'loadRunner' | 'onLoadFailure'>> = {},
): Promise<TestApp> {
  const source = { PORT: '0', INFERENCE_WORKERS: '0', MODEL_DIR, LOG_LEVEL: 'warn', SHUTDOWN_DRAIN_MS: '2000', ...env };
  const config = loadServiceConfig(0, source);
  const logs: string[] = [];
  const logStream = new PassThrough();
  logStream.setEncoding('utf8');
  logStream.on('data', (chunk: string) => logs.push(...chunk.split('\n').filter(Boolean)));
  const options: AnomalyOptions = {
    inference: loadInferenceConfig(ANOMALY_MODEL_NAME, source, ANOMALY_INFERENCE_DEFAULTS),
    requestTimeoutMs: config.requestTimeoutMs,
    anomaly: loadAnomalyConfig(source),
    onLoadFailure: (err) => logs.push(`load failed: ${err.message}`),
    ...extra,
  };
  @Module({})
  class TestRoot {}
  const module: DynamicModule = {
    module: TestRoot,
    imports: [CoreModule.forRoot({ service: 'anomaly-detector', config, logStream }), AnomalyModule.forRoot(options)],
  };
  const running = await startService({
    name: 'anomaly-detector',
    module,
    config,
    isBatchRoute: (p) => p.endsWith('/batch') || p.endsWith('/infer'),
  });
  const service = running.app.get(AnomalyService);
  return {
    ...running,
    service,
    logs,
    stop: async () => {
      await running.shutdown('test end');
    },
  };
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 25): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function waitReady(url: string): Promise<void> {
  await waitFor(async () => (await http(`${url}/health/ready`)).status === 200, 20_000);
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A private redis-server this test may stop and kill; never the shared one. */
export async function startRedisServer(port: number): Promise<ChildProcess> {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = createRedisClient({ url: `redis://127.0.0.1:${port}/0`, commandTimeoutMs: 200, connectTimeoutMs: 200 }, 'probe');
  try {
    await waitFor(async () => {
      try {
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      }
    }, 10_000, 50);
  } finally {
    probe.disconnect();
  }
  return proc;
}

export function stopProcess(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
  });
}

/** A client for the shared Redis at 127.0.0.1:6379 (or a private one), as the app creates it. */
export function redisClient(port = 6379, commandTimeoutMs = 250): Redis {
  return createRedisClient({ url: `redis://127.0.0.1:${port}/0`, commandTimeoutMs, connectTimeoutMs: 500 }, `test-${port}`);
}

/** Deletes every key under `prefix` (SCAN, never FLUSHALL). */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await client.del(...keys);
  } while (cursor !== '0');
}

export function uniquePrefix(name: string): string {
  return `test:anomaly:${name}:${process.pid}:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}:`;
}
