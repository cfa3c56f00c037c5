import { createHash, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { http, type HttpResult } from './support/http';
import { startApp, type RunningApp } from './support/processes';

/*
 * Acceptance: with REDIS_URL, rate-limit counters (and the prediction cache) live in Redis, so N
 * gateway replicas enforce one limit. Two real gateway processes share one real Redis here.
 *
 * The gateway has no variable for its Redis key prefixes (`ml:rl:` for counters, `ml:pred:v1:` for
 * the cache are fixed in code), so this run keeps apart from parallel runs on the shared Redis by
 * its own API key names (the limiter's tracker) and its own query texts (the cache keys), and
 * deletes exactly the keys those produce, nothing else.
 *
 * By design a replica whose Redis call fails or takes longer than the limiter's timeout (200 ms,
 * fixed in code) answers from its own memory until Redis answers again, and logs a warning. A
 * starved CPU (another test run) can trip that timeout, and then the limit is per process, which is
 * the documented degradation, not the property tested here. So an attempt during which a replica
 * logged that warning is void and repeated with a fresh key; the test fails if no attempt ran
 * entirely on Redis.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';
const L = 20;
const K = 15;
const WINDOW_SECONDS = 60;
const CACHE_TTL_SECONDS = 600;

const RUN = `${process.pid}-${randomUUID().slice(0, 8)}`;
const sha256hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const MAX_ATTEMPTS = 3;
const DEGRADED_LOG = 'Redis is unavailable for rate limiting';

interface ApiKey {
  name: string;
  secret: string;
}
const apiKey = (label: string): ApiKey => ({ name: `e2e-replicas-${label}-${RUN}`, secret: `replicas-${label}-${randomUUID()}` });
/** One fresh key per attempt at the limit, and others so that nothing else draws on their budgets. */
const LIMIT_KEYS = Array.from({ length: MAX_ATTEMPTS }, (_, i) => apiKey(`limit${i + 1}`));
const WARM_KEY = apiKey('warm');
const CACHE_KEY = apiKey('cache');
const ALL_KEYS = [...LIMIT_KEYS, WARM_KEY, CACHE_KEY];
const ML_API_KEYS = ALL_KEYS.map((k) => `${k.name}:${sha256hex(k.secret)}`).join(',');

/** The limiter's Redis key for an API key: prefix `ml:rl:`, policy `default`, tracker `key:<name>`. */
const counterKey = (keyName: string) => `ml:rl:default:key:${keyName}`;
/**
 * The gateway's cache key of an intent query: prefix `ml:pred:v1:` + sha256 of the canonical JSON of
 * [model, version, lower-cased query] (an array of strings: its canonical JSON is JSON.stringify's).
 */
const cacheKey = (version: string, query: string) =>
  `ml:pred:v1:${sha256hex(JSON.stringify(['intent-classifier', version, query.toLowerCase()]))}`;

/** `"default";r=3;t=59` -> { r: 3, t: 59 } */
function rateLimitParams(header: HttpResult['headers'][string]): Record<string, number> {
  const text = String(header);
  expect(text).toMatch(/^"default";r=\d+;t=\d+$/);
  return Object.fromEntries(text.split(';').slice(1).map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]));
}

/** Sum of one Prometheus series' samples whose labels contain every `labels` pair. */
function metricValue(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

async function readyDetails(url: string) {
  const res = await http(`${url}/health/ready`);
  return { status: res.status, details: res.json?.details };
}

/** Ready, on Redis, and knowing the classifier's model version (part of every cache key). */
async function waitReadyOnRedis(url: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 600; i++) {
    const { status, details } = await readyDetails(url);
    last = details;
    const version = details?.upstreams?.['intent-classifier']?.version;
    if (status === 200 && details?.redis?.connection === 'ready' && details?.rate_limit?.mode === 'redis' && typeof version === 'string') {
      return version;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready on Redis: ${JSON.stringify(last)}`);
}

describe('two gateway replicas sharing one real Redis', () => {
  let redis: Redis;
  let intent: RunningApp;
  let anomaly: RunningApp;
  let replicas: RunningApp[] = [];
  let version = '';
  /** Every query sent, so afterAll can delete the cache entries they made. */
  const queries = new Set<string>();

  const predict = (gw: RunningApp, key: ApiKey, query: string) => {
    queries.add(query);
    return http(`${gw.url}/predict/intent`, { body: { query }, headers: { 'x-api-key': key.secret } });
  };

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    // Fresh names: nothing of this run can already be in Redis.
    expect(await redis.exists(...ALL_KEYS.map((k) => counterKey(k.name)))).toBe(0);

    [intent, anomaly] = await Promise.all([startApp('intent-classifier'), startApp('anomaly-detector')]);
    const env = {
      REDIS_URL,
      ML_API_KEYS,
      INTENT_CLASSIFIER_URL: intent.url,
      ANOMALY_DETECTOR_URL: anomaly.url,
      RATE_LIMIT_REQUESTS: String(L),
      RATE_LIMIT_WINDOW: String(WINDOW_SECONDS),
      CACHE_DEFAULT_TTL: String(CACHE_TTL_SECONDS),
      // Generous deadlines: another test run may be loading the CPU.
      REQUEST_TIMEOUT_MS: '15000',
      REDIS_COMMAND_TIMEOUT_MS: '2000',
    };
    replicas = await Promise.all([startApp('gateway', env, 60_000), startApp('gateway', env, 60_000)]);
    const versions = await Promise.all(replicas.map((gw) => waitReadyOnRedis(gw.url)));
    expect(versions[1]).toBe(versions[0]);
    version = versions[0];
    // One request per replica first, so the burst does not also pay for cold code paths.
    for (const [i, gw] of replicas.entries()) expect((await predict(gw, WARM_KEY, `warm up ${i} (replicas ${RUN})`)).status).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...replicas, intent, anomaly].filter(Boolean).map((app) => app.stop()));
    if (redis) {
      // Only this run's keys: its keys' counters and the cache entries of its own queries.
      const keys = ALL_KEYS.map((k) => counterKey(k.name));
      if (version) keys.push(...[...queries].map((q) => cacheKey(version, q)));
      await redis.del(...keys);
      redis.disconnect();
    }
  }, 60_000);

  it('both replicas report Redis mode for the cache and the rate limiter on /health/ready', async () => {
    for (const gw of replicas) {
      const { status, details } = await readyDetails(gw.url);
      expect(status).toBe(200);
      expect(details.redis).toMatchObject({ mode: 'redis', connection: 'ready', cache_degraded: false });
      expect(details.rate_limit).toMatchObject({ mode: 'redis', degraded: false });
      expect(details.upstreams['intent-classifier']).toMatchObject({ ready: true, version });
    }
    expect(replicas[0].port).not.toBe(replicas[1].port);
  });

  /** How many times each replica has warned that it fell back to per-process counters. */
  const degradations = () => replicas.map((gw) => gw.lines.filter((l) => l.includes(DEGRADED_LOG)).length);
  const metricsOf = () => Promise.all(replicas.map(async (gw) => (await http(`${gw.url}/metrics`)).text));
  /** Per replica: how much each series grew between two /metrics snapshots. */
  const grew = (before: string[], after: string[], name: string, labels: Record<string, string>) =>
    after.map((text, i) => metricValue(text, name, labels) - metricValue(before[i], name, labels));

  /** L+k concurrent requests for `key`, alternating between the replicas, then one more on each. */
  async function burst(key: ApiKey, attempt: number) {
    const sent = Array.from({ length: L + K }, (_, i) => ({ replica: i % 2, query: `what is the limit on my card (replicas ${RUN} try ${attempt} #${i})` }));
    const replies = await Promise.all(sent.map(({ replica, query }) => predict(replicas[replica], key, query)));
    const outcomes = replies.map((r, i) => ({ ...r, ...sent[i] }));
    const after: HttpResult[] = [];
    for (const gw of replicas) after.push(await predict(gw, key, `one more after the burst (replicas ${RUN} try ${attempt} via ${gw.port})`));
    return { outcomes, after };
  }

  it(`lets exactly L of L+k concurrent requests for one key through, alternating between the replicas (L=${L}, k=${K})`, async () => {
    let run: Awaited<ReturnType<typeof burst>> | undefined;
    let key = LIMIT_KEYS[0];
    let metricsBefore: string[] = [];
    const voided: string[] = [];
    for (const [i, candidate] of LIMIT_KEYS.entries()) {
      // Both replicas on Redis (after a void attempt, the limiter's breaker needs ~2 s to close).
      await Promise.all(replicas.map((gw) => waitReadyOnRedis(gw.url)));
      const warned = degradations();
      metricsBefore = await metricsOf();
      const attempt = await burst(candidate, i + 1);
      // Let the replicas' output reach us: a warning is written before the reply it concerns.
      await new Promise((r) => setTimeout(r, 250));
      const now = degradations();
      if (now.every((n, r) => n === warned[r])) {
        run = attempt;
        key = candidate;
        break;
      }
      const lines = replicas.flatMap((gw, r) => gw.lines.filter((l) => l.includes(DEGRADED_LOG)).slice(warned[r]).map((l) => `replica ${r}: ${l}`));
      voided.push(`attempt ${i + 1} is void, a replica fell back to per-process counters:\n${lines.join('\n')}`);
      console.warn(`gateway-replicas: ${voided[voided.length - 1]}`);
    }
    if (!run) throw new Error(`no attempt ran entirely on Redis:\n${voided.join('\n')}`);
    const { outcomes, after } = run;
    const passed = outcomes.filter((r) => r.status === 200);
    const refused = outcomes.filter((r) => r.status === 429);

    // Exactly L through and k refused in total, although each replica alone saw fewer than L
    // requests (18 and 17): per-process counters would have let all L+k through.
    expect(outcomes.map((r) => r.status).sort()).toEqual([...Array(L).fill(200), ...Array(K).fill(429)]);
    expect(passed).toHaveLength(L);
    expect(refused).toHaveLength(K);
    for (const replica of [0, 1]) expect(passed.filter((r) => r.replica === replica).length).toBeGreaterThan(0);

    for (const r of passed) {
      expect(r.json).toMatchObject({ intent: expect.any(String), confidence: expect.any(Number), cached: false, model: { name: 'intent-classifier', version } });
      expect(r.headers['ratelimit-policy']).toBe(`"default";q=${L};w=${WINDOW_SECONDS}`);
    }
    // One counter for both replicas: every remaining value L-1..0 was handed out exactly once.
    expect(passed.map((r) => rateLimitParams(r.headers['ratelimit'])['r']).sort((a, b) => a - b)).toEqual(Array.from({ length: L }, (_, i) => i));

    for (const r of [...refused, ...after]) {
      expect(r.status).toBe(429);
      expect(r.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(r.json).toMatchObject({
        type: 'urn:ml-services:problem:rate-limited',
        title: 'Too Many Requests',
        status: 429,
        detail: expect.stringContaining(`Rate limit of ${L} requests per ${WINDOW_SECONDS} s exceeded`),
      });
      // The refusal names neither the key nor its secret.
      expect(r.text).not.toContain(key.name);
      expect(r.text).not.toContain(key.secret);
      const retryAfter = String(r.headers['retry-after']);
      expect(retryAfter).toMatch(/^\d+$/);
      const params = rateLimitParams(r.headers['ratelimit']);
      expect(params['r']).toBe(0);
      expect(Number(retryAfter)).toBe(Math.max(1, params['t']));
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter)).toBeLessThanOrEqual(WINDOW_SECONDS);
      expect(r.headers['ratelimit-policy']).toBe(`"default";q=${L};w=${WINDOW_SECONDS}`);
    }

    // The counter is in Redis, spent to L (refused requests are not charged), expiring with the window.
    expect(await redis.get(counterKey(key.name))).toBe(String(L));
    const pttl = await redis.pttl(counterKey(key.name));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(WINDOW_SECONDS * 1000);

    // Neither replica is on per-process counters now.
    for (const gw of replicas) expect((await readyDetails(gw.url)).details.rate_limit).toMatchObject({ mode: 'redis', degraded: false });

    // Each replica counted its own refusals (the burst's and its one more). Refused requests never
    // reached the cache (or the model): the replicas saw L misses between them and no hits.
    const metricsAfter = await metricsOf();
    const ownRefusals = [0, 1].map((i) => refused.filter((r) => r.replica === i).length + 1);
    expect(grew(metricsBefore, metricsAfter, 'ml_rate_limit_rejections_total', { tracker: 'key' })).toEqual(ownRefusals);
    expect(metricsAfter.map((m) => metricValue(m, 'ml_rate_limit_degraded', {}))).toEqual([0, 0]);
    expect(grew(metricsBefore, metricsAfter, 'ml_model_cache_misses_total', { cache: 'predictions' }).reduce((a, b) => a + b, 0)).toBe(L);
    expect(grew(metricsBefore, metricsAfter, 'ml_model_cache_hits_total', { cache: 'predictions' })).toEqual([0, 0]);
  });

  it('answers from the shared cache: a query answered by replica A is a cache hit on replica B', async () => {
    const [a, b] = replicas;
    const query = `my card has not arrived yet (replicas ${RUN})`;
    const hitsOf = async (gw: RunningApp) => metricValue((await http(`${gw.url}/metrics`)).text, 'ml_model_cache_hits_total', { cache: 'predictions' });
    const [aHits, bHits] = [await hitsOf(a), await hitsOf(b)];

    const first = await predict(a, CACHE_KEY, query);
    expect(first.status).toBe(200);
    // A key of its own: the budget the limit test spent is not this one's.
    expect(rateLimitParams(first.headers['ratelimit'])['r']).toBe(L - 1);
    expect(first.json).toMatchObject({ intent: expect.any(String), cached: false, model: { name: 'intent-classifier', version } });
    // A writes the model's answer (without the gateway's `cached` flag) to Redis, under the cache's
    // TTL. The write is sent alongside the reply, never waited for: give it a moment to land.
    let stored: string | null = null;
    for (let i = 0; i < 50 && stored === null; i++) {
      stored = await redis.get(cacheKey(version, query));
      if (stored === null) await new Promise((r) => setTimeout(r, 20));
    }
    expect(stored).not.toBeNull();
    expect(JSON.parse(String(stored))).toEqual({ ...first.json, cached: undefined });
    const pttl = await redis.pttl(cacheKey(version, query));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(CACHE_TTL_SECONDS * 1000);

    // B never saw the query; it answers from Redis (case does not change the model's answer).
    const second = await predict(b, CACHE_KEY, query.toUpperCase());
    expect(second.status).toBe(200);
    expect(second.json).toEqual({ ...first.json, cached: true });
    expect(await hitsOf(b)).toBe(bHits + 1);
    expect(await hitsOf(a)).toBe(aHits);

    // The other way round, through the batch route: B answers a fresh query, A's batch finds it.
    const fresh = `how long does a transfer take (replicas ${RUN})`;
    const viaB = await predict(b, CACHE_KEY, fresh);
    expect(viaB.json.cached).toBe(false);
    const unseen = `what is the exchange rate today (replicas ${RUN})`;
    queries.add(unseen);
    const batch = await http(`${a.url}/predict/intent/batch`, { body: { queries: [fresh, query, unseen] }, headers: { 'x-api-key': CACHE_KEY.secret } });
    expect(batch.status).toBe(200);
    expect(batch.json.predictions.map((p: { cached: boolean }) => p.cached)).toEqual([true, true, false]);
    expect(batch.json.predictions[0]).toEqual({ ...viaB.json, cached: true });
    expect(batch.json.predictions[1]).toEqual({ ...first.json, cached: true });
  });
});
