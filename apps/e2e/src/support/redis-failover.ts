import { createHash, randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { http, type HttpResult } from './http';
import { startApp, type RunningApp } from './processes';
import type { RedisProcess } from './redis-topology';

/*
 * The failover scenario both Redis topologies go through (redis-cluster and redis-sentinel specs):
 * real apps (two gateways, the intent classifier, the anomaly detector with Redis profiles) under a
 * steady closed-loop load, and the master holding a hot rate-limit counter and a hot customer's
 * profile killed with SIGKILL mid-load. What must hold is in `checkFailover` below.
 */

/** What a spec gives the scenario about its topology. */
export interface TopologyUnderTest {
  label: string;
  /** REDIS_* variables for the apps. */
  appEnv: Record<string, string>;
  /** A fresh client of the test's own (the caller disconnects it). */
  reader(): Redis | Cluster;
  /** The data node that is master for `key` now. */
  masterOf(key: string): Promise<RedisProcess>;
  /** Resolves with the new master serving `key` once the topology has healed. */
  waitHealed(key: string): Promise<RedisProcess>;
}

export const REDIS_TIMEOUT_MS = 300;
/** The hot key's limit per window; the load spends it well before the kill. */
export const LIMIT = 60;
const WINDOW_SECONDS = 120;
const STEADY_KEYS = 200;
const WORKERS = 6;
const PROFILE_PREFIX = 'ml:profile:v2:';
const QUERIES = [
  'what is the limit on my card',
  'i want to close my account',
  'how do i reset my pin',
  'my card was stolen',
  'why was i charged twice',
  'can i get a new card',
  'what is the exchange rate',
  'transfer money to my friend',
];

const sha256hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const counterKey = (keyName: string) => `ml:rl:default:key:${keyName}`;
export const profileKey = (user: string) => `${PROFILE_PREFIX}${user}`;
const cacheKey = (version: string, query: string) => `ml:pred:v1:${sha256hex(JSON.stringify(['intent-classifier', version, query.toLowerCase()]))}`;

interface ApiKey {
  name: string;
  secret: string;
}
type Kind = 'hot-intent' | 'hot-anomaly' | 'steady-intent' | 'other-anomaly';
interface Outcome {
  kind: Kind;
  start: number;
  end: number;
  status: number;
  degraded?: boolean;
}

export interface FailoverStack {
  run: string;
  gateways: RunningApp[];
  intent: RunningApp;
  detector: RunningApp;
  hotKey: ApiKey;
  /** Used only by the checks after the load, so the load never spends its budget. */
  checkKey: ApiKey;
  steadyKeys: ApiKey[];
  hotUser: string;
  modelVersion: string;
  stop(): Promise<void>;
}

/** Starts the apps on the topology and picks a hot customer whose profile shares the hot counter's master. */
export async function startFailoverStack(t: TopologyUnderTest): Promise<FailoverStack> {
  const run = `${t.label}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const key = (label: string): ApiKey => ({ name: `e2e-${label}-${run}`, secret: `secret-${label}-${randomUUID()}` });
  const hotKey = key('hot');
  const checkKey = key('check');
  const steadyKeys = Array.from({ length: STEADY_KEYS }, (_, i) => key(`steady${i}`));
  const ML_API_KEYS = [hotKey, checkKey, ...steadyKeys].map((k) => `${k.name}:${sha256hex(k.secret)}`).join(',');

  const hotMaster = await t.masterOf(counterKey(hotKey.name));
  let hotUser = '';
  for (let i = 0; i < 200 && !hotUser; i++) {
    const candidate = `hot-${run}-${i}`;
    if ((await t.masterOf(profileKey(candidate))).port === hotMaster.port) hotUser = candidate;
  }
  if (!hotUser) throw new Error('no customer id found whose profile lives on the hot master');

  const apps: RunningApp[] = [];
  const stop = async () => {
    await Promise.all(apps.map((a) => a.stop('SIGKILL')));
  };
  try {
    const common = {
      ...t.appEnv,
      ACCESS_LOG_SAMPLE: '0.01',
      ADMISSION_ENABLED: 'false',
      REDIS_COMMAND_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
      REDIS_CONNECT_TIMEOUT_MS: '500',
    };
    const [intent, detector] = await Promise.all([
      startApp('intent-classifier', { ACCESS_LOG_SAMPLE: '0.01', ADMISSION_ENABLED: 'false' }, 60_000),
      startApp('anomaly-detector', { ...common, INFERENCE_WORKERS: '1', ANOMALY_REDIS_BREAKER_RECOVERY_MS: '500' }, 60_000),
    ]);
    apps.push(intent, detector);
    const gwEnv = {
      ...common,
      ML_API_KEYS,
      INTENT_CLASSIFIER_URL: intent.url,
      ANOMALY_DETECTOR_URL: detector.url,
      RATE_LIMIT_REQUESTS: String(LIMIT),
      RATE_LIMIT_WINDOW: String(WINDOW_SECONDS),
      REQUEST_TIMEOUT_MS: '5000',
    };
    const gateways = await Promise.all([startApp('gateway', gwEnv, 60_000), startApp('gateway', gwEnv, 60_000)]);
    apps.push(...gateways);
    const stack: FailoverStack = { run, gateways, intent, detector, hotKey, checkKey, steadyKeys, hotUser, modelVersion: '', stop };
    await waitShared(stack, 60_000);
    const details = (await http(`${gateways[0].url}/health/ready`)).json?.details;
    stack.modelVersion = String(details?.upstreams?.['intent-classifier']?.version ?? '');
    if (!stack.modelVersion) throw new Error(`no intent model version in ${JSON.stringify(details)}`);
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Why the stack is not (yet) on shared Redis state, or undefined when every app is. */
async function notShared(s: FailoverStack): Promise<string | undefined> {
  for (const gw of s.gateways) {
    const d = (await http(`${gw.url}/health/ready`)).json?.details;
    if (d?.redis?.connection !== 'ready' || d?.redis?.cache_degraded !== false || d?.rate_limit?.mode !== 'redis') {
      return `gateway ${gw.port}: ${JSON.stringify({ redis: d?.redis, rate_limit: d?.rate_limit })}`;
    }
  }
  const p = (await http(`${s.detector.url}/health/ready`)).json?.details?.profiles;
  if (p?.mode !== 'redis' || p?.degraded !== false) return `detector: ${JSON.stringify(p)}`;
  return undefined;
}

async function waitShared(s: FailoverStack, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let why: string | undefined;
  while ((why = await notShared(s)) !== undefined) {
    if (Date.now() - t0 > timeoutMs) {
      const logs = [...s.gateways, s.detector].flatMap((a) => a.lines.filter((l) => /redis|profile|rate/i.test(l)).slice(-15).map((l) => `${a.name}:${a.port} ${l}`));
      throw new Error(`not back on shared Redis state after ${timeoutMs} ms: ${why}\n${logs.join('\n')}`);
    }
    await sleep(50);
  }
  return Date.now();
}

let txSeq = 0;
function transaction(user: string, run: string) {
  txSeq++;
  return {
    transaction_id: `tx-${run}-${txSeq}`,
    user_id: user,
    amount: 20 + (txSeq % 40),
    currency: 'GBP',
    timestamp: new Date(Date.now() - 60_000).toISOString(),
    merchant_category: 'grocery',
    channel: 'in_store',
    merchant_location: { lat: 51.51, lon: -0.13 },
    home_location: { lat: 51.5, lon: -0.12 },
  };
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/**
 * Transactions folded into a stored profile: in the binary form (first byte 0xB1, then the profile
 * version, a flags byte and `n` as a little-endian float64; libs/anomaly profile.codec.ts), or in
 * the JSON an earlier build (or ANOMALY_PROFILE_ENCODING=json) wrote.
 */
function foldedCount(p: Buffer): number {
  return p[0] === 0xb1 ? p.readDoubleLE(3) : Number((JSON.parse(p.toString('utf8')) as { n: number }).n);
}

/** Reads a profile hash directly: revision and transactions folded. */
export async function readProfile(t: TopologyUnderTest, user: string): Promise<{ rev: number; n: number }> {
  const c = t.reader();
  try {
    const [rev, p] = await c.hmgetBuffer(profileKey(user), 'rev', 'p');
    return { rev: Number(rev?.toString() ?? 0), n: p ? foldedCount(p) : 0 };
  } finally {
    c.disconnect();
  }
}

export interface FailoverReport {
  killedPort: number;
  newMasterPort: number;
  healedMs: number;
  sharedAgainMs: number;
  inFlightHotAtKill: number;
  hotAllowed: number;
  requests: number;
  latencyBefore: { p50: number; p99: number; max: number };
  latencyAfterKill: { p50: number; p99: number; max: number };
  degradedAnomalyAnswers: number;
  hotFoldsAnswered: number;
  hotFoldsStored: number;
  /** Times each use went degraded (log lines), over the whole run: the fewer, the fewer requests waited. */
  degradations: { rateLimit: number[]; profiles: number };
  /** performance.now() from which latencies count (the first second of load warms up). */
  measureFrom: number;
  /** Answers by kind and status, e.g. `hot-intent 429`. */
  statuses: Record<string, number>;
}

/**
 * Runs the load, kills the master of the hot counter once the hot key is over its limit, and keeps
 * the load on until every app is back on shared state by itself. Returns what it saw; the spec
 * asserts.
 */
export async function runFailover(t: TopologyUnderTest, s: FailoverStack): Promise<{ report: FailoverReport; outcomes: Outcome[] }> {
  const outcomes: Outcome[] = [];
  const hotInFlight = new Set<number>();
  let stopAt = Infinity;
  let seq = 0;
  let hotRefused = false;

  async function one(worker: number, i: number): Promise<void> {
    const kinds: Kind[] = ['hot-intent', 'hot-anomaly', 'steady-intent', 'other-anomaly'];
    const kind = kinds[(worker + i) % kinds.length];
    const id = seq++;
    // Alternate replicas over all requests, so each kind reaches both.
    const gw = s.gateways[id % 2];
    const steady = s.steadyKeys[id % s.steadyKeys.length];
    let res: HttpResult;
    const start = performance.now();
    if (kind === 'hot-intent') hotInFlight.add(id);
    try {
      if (kind === 'hot-intent' || kind === 'steady-intent') {
        const k = kind === 'hot-intent' ? s.hotKey : steady;
        res = await http(`${gw.url}/predict/intent`, { body: { query: QUERIES[id % QUERIES.length] }, headers: { 'x-api-key': k.secret } });
      } else {
        const user = kind === 'hot-anomaly' ? s.hotUser : `other-${s.run}-${id % 40}`;
        res = await http(`${gw.url}/predict/anomaly`, { body: transaction(user, s.run), headers: { 'x-api-key': steady.secret } });
      }
    } finally {
      hotInFlight.delete(id);
    }
    const end = performance.now();
    if (kind === 'hot-intent' && res.status === 429) hotRefused = true;
    outcomes.push({ kind, start, end, status: res.status, ...(kind.endsWith('anomaly') ? { degraded: res.json?.degraded === true } : {}) });
  }

  const workers = Array.from({ length: WORKERS }, async (_, w) => {
    for (let i = 0; performance.now() < stopAt; i++) await one(w, i);
  });

  const hotCounter = counterKey(s.hotKey.name);
  try {
    // Spend the hot key's limit on shared counters, and let the load settle (cold code paths and
    // the first connections are not what is measured: latency counts from `measureFrom`).
    const measureFrom = performance.now() + 1000;
    const t0 = Date.now();
    while (!hotRefused || Date.now() - t0 < 1500) {
      if (Date.now() - t0 > 20_000) throw new Error('the hot key never reached its limit');
      await sleep(20);
    }
    const victim = await t.masterOf(hotCounter);
    const killAt = performance.now();
    const inFlightHotAtKill = hotInFlight.size;
    await victim.kill();
    const killedWall = Date.now();
    const healed = await t.waitHealed(hotCounter);
    const healedMs = Date.now() - killedWall;
    const sharedAt = await waitShared(s, 30_000);
    const sharedAgainMs = sharedAt - killedWall;
    // A little more load on the healed topology, then stop.
    await sleep(1000);
    stopAt = performance.now();
    await Promise.all(workers);

    const lat = (xs: Outcome[]) => {
      const ms = xs.map((o) => o.end - o.start);
      return { p50: Math.round(quantile(ms, 0.5)), p99: Math.round(quantile(ms, 0.99)), max: Math.round(Math.max(...ms)) };
    };
    const hotAnomaly = outcomes.filter((o) => o.kind === 'hot-anomaly' && o.status === 200 && !o.degraded);
    const stored = await readProfile(t, s.hotUser);
    const report: FailoverReport = {
      killedPort: victim.port,
      newMasterPort: healed.port,
      healedMs,
      sharedAgainMs,
      inFlightHotAtKill,
      hotAllowed: outcomes.filter((o) => o.kind === 'hot-intent' && o.status === 200).length,
      requests: outcomes.length,
      latencyBefore: lat(outcomes.filter((o) => o.start >= measureFrom && o.end < killAt)),
      latencyAfterKill: lat(outcomes.filter((o) => o.start >= killAt || o.end >= killAt)),
      degradedAnomalyAnswers: outcomes.filter((o) => o.degraded).length,
      hotFoldsAnswered: hotAnomaly.length,
      hotFoldsStored: stored.n,
      measureFrom,
      degradations: {
        rateLimit: s.gateways.map((g) => g.lines.filter((l) => l.includes('Redis is unavailable for rate limiting')).length),
        profiles: s.detector.lines.filter((l) => l.includes('profile store unavailable')).length,
      },
      statuses: {},
    };
    for (const o of outcomes) report.statuses[`${o.kind} ${o.status}`] = (report.statuses[`${o.kind} ${o.status}`] ?? 0) + 1;
    return { report, outcomes };
  } finally {
    stopAt = performance.now();
    await Promise.all(workers);
  }
}

/** The assertions of the scenario, shared by both specs. */
export async function checkFailover(t: TopologyUnderTest, s: FailoverStack, report: FailoverReport, outcomes: Outcome[]): Promise<void> {
  // Requests kept being answered: the hot key's 429s, everything else 200 (degraded where the
  // contract says so: anomaly answers scored without history). Never a 5xx, never a hang.
  for (const o of outcomes) expect(o.kind === 'hot-intent' ? [200, 429] : [200]).toContain(o.status);
  expect(outcomes.filter((o) => o.status === 200 && o.kind === 'steady-intent').length).toBeGreaterThan(0);

  // No request waited on Redis longer than the budget: the gateway's (rate limit + cache) plus, for
  // an anomaly score, the detector's; the rest is the request's usual time, at most what the same
  // load saw before the kill, plus scheduling noise on a shared 2-core machine.
  const bound = report.latencyBefore.max + 2 * REDIS_TIMEOUT_MS + 300;
  const slow = outcomes.filter((o) => o.start >= report.measureFrom && o.end - o.start > bound);
  expect(slow.map((o) => `${o.kind} ${Math.round(o.end - o.start)} ms`)).toEqual([]);

  // The hot key was over its limit before the kill: after it, at most the requests in flight at
  // the kill get through (replicas carry on from the shared count they last saw, see README).
  expect(report.hotAllowed).toBeLessThanOrEqual(LIMIT + report.inFlightHotAtKill);
  expect(report.hotAllowed).toBeGreaterThanOrEqual(LIMIT);
  // And on the healed topology it is still refused, on shared counters again.
  const again = await http(`${s.gateways[0].url}/predict/intent`, { body: { query: QUERIES[0] }, headers: { 'x-api-key': s.hotKey.secret } });
  expect(again.status).toBe(429);

  // Folds: never more stored than answered (a failover may lose acknowledged ones, never add).
  expect(report.hotFoldsStored).toBeLessThanOrEqual(report.hotFoldsAnswered);

  // Profiles updated after the failover are exact, with concurrent requests on both gateways.
  const before = await readProfile(t, s.hotUser);
  const fresh = `fresh-${s.run}`;
  const M = 24;
  const steady = s.checkKey;
  const send = (user: string, i: number) =>
    http(`${s.gateways[i % 2].url}/predict/anomaly`, { body: transaction(user, s.run), headers: { 'x-api-key': steady.secret } });
  for (let round = 0; round < M / 8; round++) {
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => [send(s.hotUser, i), send(fresh, i + 1)]).flat());
    for (const r of replies) {
      expect(r.status).toBe(200);
      expect(r.json.degraded).toBe(false);
    }
  }
  const after = await readProfile(t, s.hotUser);
  expect(after).toEqual({ rev: before.rev + M, n: before.n + M });
  expect(await readProfile(t, fresh)).toEqual({ rev: M, n: M });

  // The shared cache works again across replicas, for a query whose entry lives on the new master.
  let query = '';
  for (let i = 0; i < 300 && !query; i++) {
    const q = `what is my card limit after the failover ${s.run} ${i}`;
    if ((await t.masterOf(cacheKey(s.modelVersion, q))).port === report.newMasterPort) query = q;
  }
  expect(query).not.toBe('');
  const first = await http(`${s.gateways[0].url}/predict/intent`, { body: { query }, headers: { 'x-api-key': steady.secret } });
  expect(first.json?.cached).toBe(false);
  const reader = t.reader();
  try {
    const key = cacheKey(s.modelVersion, query);
    for (let i = 0; i < 50 && (await reader.exists(key)) === 0; i++) await sleep(20);
    expect(await reader.exists(key)).toBe(1);
  } finally {
    reader.disconnect();
  }
  const second = await http(`${s.gateways[1].url}/predict/intent`, { body: { query }, headers: { 'x-api-key': steady.secret } });
  expect(second.status).toBe(200);
  expect(second.json.cached).toBe(true);
}
