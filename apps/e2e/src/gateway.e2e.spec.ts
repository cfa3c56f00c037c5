import { createHash } from 'node:crypto';
import { FaultProxy } from './support/fault-proxy';
import { http } from './support/http';
import { startApp, waitForLine, type RunningApp } from './support/processes';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const FULL = 'full-access-secret';
const INTENT_ONLY = 'intent-only-secret';
const KEYS = `ops:${sha(FULL)},mobile:${sha(INTENT_ONLY)}:intent-classifier`;

async function waitReady(url: string, path = '/health/ready') {
  for (let i = 0; i < 300; i++) {
    if ((await http(url + path)).status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

describe('gateway in front of a real intent classifier', () => {
  let intent: RunningApp;
  let anomaly: RunningApp;
  let proxy: FaultProxy;
  let gateway: RunningApp;
  const key = { 'x-api-key': FULL };

  beforeAll(async () => {
    intent = await startApp('intent-classifier');
    await waitReady(intent.url);
    anomaly = await startApp('anomaly-detector');
    await waitReady(anomaly.url);
    proxy = await new FaultProxy(intent.port).start();
    gateway = await startApp('gateway', {
      ML_API_KEYS: KEYS,
      INTENT_CLASSIFIER_URL: proxy.url,
      ANOMALY_DETECTOR_URL: anomaly.url,
      CIRCUIT_BREAKER_FAILURE_THRESHOLD: '3',
      CIRCUIT_BREAKER_RECOVERY_TIMEOUT: '1',
      CIRCUIT_BREAKER_MIN_CALLS: '1000',
      REQUEST_TIMEOUT_MS: '1500',
    });
    await waitReady(gateway.url);
    // The gateway learns the served model version (part of cache keys) from the upstream.
    for (let i = 0; i < 100; i++) {
      const h = await http(`${gateway.url}/health/ready`);
      if (h.json?.details?.upstreams?.['intent-classifier']?.version) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    await gateway?.stop();
    await proxy?.stop();
    await intent?.stop();
    await anomaly?.stop();
  });

  describe('auth', () => {
    it('401 without a key or with a wrong one, 403 outside the scope, 200 inside it', async () => {
      expect((await http(`${gateway.url}/predict/intent`, { body: { query: 'hi' } })).status).toBe(401);
      expect((await http(`${gateway.url}/predict/intent`, { body: { query: 'hi' }, headers: { 'x-api-key': 'wrong' } })).status).toBe(401);
      const forbidden = await http(`${gateway.url}/predict/anomaly`, { body: {}, headers: { 'x-api-key': INTENT_ONLY } });
      expect(forbidden.status).toBe(403);
      expect(forbidden.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      const ok = await http(`${gateway.url}/predict/intent`, { body: { query: 'I lost my card' }, headers: { authorization: `Bearer ${INTENT_ONLY}` } });
      expect(ok.status).toBe(200);
      // Limited per key, with the IETF headers.
      expect(ok.headers['ratelimit-policy']).toBe('"default";q=100;w=60');
      expect(String(ok.headers['ratelimit'])).toMatch(/^"default";r=\d+;t=\d+$/);
      expect(gateway.lines.join('\n')).not.toContain(INTENT_ONLY);
    });

    it('needs no key for health, metrics and docs', async () => {
      for (const p of ['/health/live', '/health/ready', '/health', '/metrics', '/docs-json', '/docs']) {
        const res = await http(gateway.url + p);
        expect([p, res.status]).toEqual([p, 200]);
        expect(res.headers['ratelimit']).toBeUndefined();
      }
    });
  });

  describe('predictions', () => {
    it('forwards a query, then answers the same query from the cache', async () => {
      const query = `my card has not arrived yet ${Date.now()}`;
      const first = await http(`${gateway.url}/predict/intent`, { body: { query }, headers: { ...key, 'x-request-id': 'gw-e2e-1' } });
      expect(first.status).toBe(200);
      expect(first.json).toMatchObject({ intent: expect.any(String), cached: false, model: { name: 'intent-classifier' } });
      const second = await http(`${gateway.url}/predict/intent`, { body: { query: query.toUpperCase() }, headers: key });
      expect(second.json).toEqual({ ...first.json, cached: true });
      // The request id travelled to the model app.
      expect(await waitForLine(intent, (l) => l.includes('gw-e2e-1'))).toBeDefined();
    });

    it('answers a batch with per-item cache flags, in order', async () => {
      const fresh = `how long does a transfer take ${Date.now()}`;
      await http(`${gateway.url}/predict/intent`, { body: { query: 'I lost my card' }, headers: key });
      const res = await http(`${gateway.url}/predict/intent/batch`, { body: { queries: ['I lost my card', fresh] }, headers: key });
      expect(res.status).toBe(200);
      expect(res.json.predictions.map((p: { cached: boolean }) => p.cached)).toEqual([true, false]);
    });

    it('validates before forwarding: 422 names the field', async () => {
      const res = await http(`${gateway.url}/predict/intent/batch`, { body: { queries: ['ok', '  '] }, headers: key });
      expect(res.status).toBe(422);
      expect(res.json.errors).toEqual([{ field: 'queries[1]', message: 'must not be empty or only whitespace' }]);
      const tx = await http(`${gateway.url}/predict/anomaly`, { body: { transaction_id: 't', amount: -1 }, headers: key });
      expect(tx.status).toBe(422);
      expect(tx.json.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['amount', 'user_id', 'currency']));
    });

    it('coalesces concurrent queries into upstream batches and answers each correctly', async () => {
      const queries = Array.from({ length: 40 }, (_, i) => `please cancel the transfer I made (ref ${Date.now()}-${i})`);
      const results = await Promise.all(queries.map((query) => http(`${gateway.url}/predict/intent`, { body: { query }, headers: key })));
      expect(results.every((r) => r.status === 200 && r.json.cached === false)).toBe(true);
      const intents = new Set(results.map((r) => r.json.intent));
      expect(intents.size).toBe(1);
    });

    it('proxies the Open Inference Protocol, with the classification extension', async () => {
      const res = await http(`${gateway.url}/v2/models/intent-classifier/infer`, {
        body: { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['what is the exchange rate'] }], outputs: [{ name: 'probabilities', parameters: { classification: 1 } }] },
        headers: key,
      });
      expect(res.status).toBe(200);
      expect(res.json.outputs[0].data[0]).toMatch(/^0\.\d+:\d+:[a-z_]+/);
      expect((await http(`${gateway.url}/v2/models/intent-classifier`, { headers: key })).json.name).toBe('intent-classifier');
      expect((await http(`${gateway.url}/v2/models/nope`, { headers: key })).json).toEqual({ error: 'No model named "nope" is served here.' });
      expect((await http(`${gateway.url}/v2/models/intent-classifier`)).status).toBe(401);
      expect((await http(`${gateway.url}/v2/models/anomaly-detector`, { headers: { 'x-api-key': INTENT_ONLY } })).status).toBe(403);
    });
  });

  describe('monitoring', () => {
    it('reports per-model stats, cache stats, breaker states and Redis mode', async () => {
      const res = await http(`${gateway.url}/monitoring/health`, { headers: key });
      expect(res.status).toBe(200);
      expect(res.json.models['intent-classifier']).toMatchObject({ status: expect.any(String), prediction_count: expect.any(Number), p50: expect.any(Number), p95: expect.any(Number), p99: expect.any(Number) });
      expect(res.json.cache.predictions.hits).toBeGreaterThan(0);
      expect(res.json.upstreams['intent-classifier']).toMatchObject({ breaker: 'closed', ready: true });
      expect(res.json.redis).toEqual({ mode: 'memory' });
      expect(res.json.rate_limit).toMatchObject({ mode: 'memory', degraded: false, limit: expect.any(Number), window_seconds: expect.any(Number) });
      const stats = await http(`${gateway.url}/monitoring/statistics`, { headers: key });
      expect(stats.json['intent-classifier'].counts_by_outcome.success).toBeGreaterThan(0);
      expect(stats.json['intent-classifier'].confidence_histogram).toHaveLength(10);
      const m = (await http(`${gateway.url}/metrics`)).text;
      expect(m).toMatch(/ml_model_cache_hits_total\{[^}]*cache="predictions"[^}]*\} [1-9]/);
      expect(m).toMatch(/ml_circuit_breaker_state\{[^}]*upstream="intent-classifier"[^}]*\} 0/);
    });
  });

  describe('resilience against a failing upstream', () => {
    afterEach(() => {
      proxy.mode = { kind: 'pass' };
    });

    it('answers 504 at the deadline when the upstream is slow, and when it hangs after the headers', async () => {
      proxy.dropAll();
      proxy.mode = { kind: 'delay', ms: 2000 };
      const t0 = Date.now();
      const slow = await http(`${gateway.url}/predict/intent`, { body: { query: `slow ${Date.now()}` }, headers: { ...key, 'x-request-timeout-ms': '300' } });
      expect(slow.status).toBe(504);
      expect(Date.now() - t0).toBeLessThan(1500);
      proxy.dropAll();
      proxy.mode = { kind: 'hang-after-headers' };
      const t1 = Date.now();
      const hung = await http(`${gateway.url}/predict/intent`, { body: { query: `hang ${Date.now()}` }, headers: { ...key, 'x-request-timeout-ms': '300' } });
      expect(hung.status).toBe(504);
      expect(hung.json.type).toBe('urn:ml-services:problem:deadline-exceeded');
      expect(Date.now() - t1).toBeLessThan(1500);
    });

    it('opens the breaker after repeated failures, fails fast with Retry-After, and recovers when the upstream heals', async () => {
      // Wait out any state from the previous test.
      await new Promise((r) => setTimeout(r, 1100));
      proxy.dropAll();
      proxy.mode = { kind: 'reset' };
      for (let i = 0; i < 4; i++) {
        const r = await http(`${gateway.url}/predict/intent`, { body: { query: `reset ${i} ${Date.now()}` }, headers: key });
        expect([502, 503]).toContain(r.status);
      }
      const t0 = Date.now();
      const open = await http(`${gateway.url}/predict/intent`, { body: { query: `open ${Date.now()}` }, headers: key });
      expect(open.status).toBe(503);
      expect(open.json.type).toBe('urn:ml-services:problem:upstream-circuit-open');
      expect(Number(open.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Date.now() - t0).toBeLessThan(100);
      const m = (await http(`${gateway.url}/metrics`)).text;
      expect(m).toMatch(/ml_circuit_breaker_state\{[^}]*upstream="intent-classifier"[^}]*\} 2/);
      // Health and the other model's routes are unaffected.
      expect((await http(`${gateway.url}/health/ready`)).status).toBe(200);
      const other = await http(`${gateway.url}/predict/anomaly`, {
        body: { transaction_id: `g-${Date.now()}`, user_id: 'u', amount: 12, currency: 'EUR', timestamp: '2026-11-20T10:00:00Z', merchant_category: 'grocery', channel: 'in_store' },
        headers: key,
      });
      expect(other.status).toBe(200);
      expect(other.json.transaction_id).toMatch(/^g-/);
      proxy.mode = { kind: 'pass' };
      await new Promise((r) => setTimeout(r, 1100));
      const healed = await http(`${gateway.url}/predict/intent`, { body: { query: `healed ${Date.now()}` }, headers: key });
      expect(healed.status).toBe(200);
      expect((await http(`${gateway.url}/monitoring/health`, { headers: key })).json.upstreams['intent-classifier'].breaker).toBe('closed');
    });

    it('answers 503 in milliseconds when the upstream process is gone, and serves again once it is back', async () => {
      await new Promise((r) => setTimeout(r, 1100));
      await intent.stop();
      proxy.dropAll();
      const down = await http(`${gateway.url}/predict/intent`, { body: { query: `down ${Date.now()}` }, headers: key });
      expect(down.status).toBe(503);
      expect(down.headers['retry-after']).toBeDefined();
      intent = await startApp('intent-classifier', { PORT: String(intent.port) });
      await waitReady(intent.url);
      await new Promise((r) => setTimeout(r, 1100));
      const back = await http(`${gateway.url}/predict/intent`, { body: { query: `back ${Date.now()}` }, headers: key });
      expect(back.status).toBe(200);
    });
  });
});
