import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule, DEV_API_KEY, loadAuthConfig } from '@ml/auth';
import { loadServiceConfig } from '@ml/config';
import { CoreModule, startService, type RunningService } from '@ml/server';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request } from 'undici';
import { loadGatewaySettings } from './gateway.config';
import { GatewayApiModule } from './gateway-api.module';
import { RateLimitModule } from '@ml/rate-limit';
import { buildOpenApiDocument } from './openapi';

/** A real HTTP upstream that answers like a model app and can be told to misbehave. */
class TestUpstream {
  server!: Server;
  port = 0;
  calls: { path: string; body: any; headers: IncomingMessage['headers'] }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  mode: 'ok' | '500' | '503' | '422' | 'slow' | 'shed' = 'ok';
  /** What its readiness probe answers. */
  ready = true;
  async start() {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
  stop() {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(r));
  }
  private handle(req: IncomingMessage, res: ServerResponse) {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : undefined;
      this.calls.push({ path: req.url ?? '', body, headers: req.headers });
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(payload));
      };
      const predict = (q: string) => ({ intent: q.toLowerCase().includes('card') ? 'card_arrival' : 'exchange_rate', confidence: 0.9, top: [], model: { name: 'intent-classifier', version: '1.0.0' } });
      if (req.url === '/health/ready') return this.ready ? send(200, { status: 'ok' }) : send(503, { status: 'starting' });
      if (req.url?.startsWith('/v2/models/intent-classifier') && req.method === 'GET') return send(200, { name: 'intent-classifier', versions: ['1.0.0'] });
      if (this.mode === '500') return send(500, { type: 'x', detail: 'internal' });
      if (this.mode === '503') return send(503, { type: 'x' }, { 'retry-after': '1' });
      if (this.mode === 'shed') {
        return send(503, { type: 'urn:ml-services:problem:overloaded', title: 'Service Unavailable', status: 503, detail: 'shed' }, { 'retry-after': '2', 'x-ml-shed': '1' });
      }
      if (this.mode === '422') return send(422, { type: 'urn:x', title: 'Unprocessable Content', status: 422, detail: 'upstream says no' });
      if (this.mode === 'slow') return setTimeout(() => send(200, predict('x')), 1000);
      if (req.url === '/predict/intent') return send(200, predict(body.query));
      if (req.url === '/predict/intent/batch') return send(200, { predictions: body.queries.map(predict) });
      if (req.url === '/predict/anomaly') return send(200, { transaction_id: body.transaction_id, score: 0.1, is_anomaly: false, threshold: 0.5, reasons: [], model: { name: 'anomaly-detector', version: '1.0.0' }, degraded: false });
      if (req.url === '/predict/anomaly/batch') return send(200, { predictions: body.transactions.map((t: { transaction_id: string }) => ({ transaction_id: t.transaction_id, score: 0.9, is_anomaly: true, threshold: 0.5, reasons: ['x'], model: { name: 'anomaly-detector', version: '1.0.0' }, degraded: false })) });
      if (req.url === '/v2/models/intent-classifier/infer') return send(200, { model_name: 'intent-classifier', outputs: [] });
      send(404, { error: 'no' });
    });
  }
}

const tx = (id: string) => ({ transaction_id: id, user_id: 'u1', amount: 10, currency: 'GBP', timestamp: '2026-01-01T10:00:00Z', merchant_category: 'grocery', channel: 'online' });

/** The gateway's API module in a real Nest app on a free port, configured by `env`. */
async function startGateway(name: string, env: Record<string, string>, requestTimeoutMs: number): Promise<RunningService> {
  const config = loadServiceConfig(0, env);
  const mod: DynamicModule = {
    module: class GwTestModule {},
    imports: [
      CoreModule.forRoot({ service: name, config }),
      AuthModule.forRoot(loadAuthConfig({})),
      RateLimitModule.forRoot({ requests: 10_000, windowSeconds: 60, globalGuard: false }),
      GatewayApiModule.forRoot({ settings: loadGatewaySettings(env), options: { requestTimeoutMs, transactionRules: { maxAmount: 1000, maxFutureMs: 86_400_000 } } }),
    ],
  };
  Module({})(mod.module);
  return startService({ name, module: mod, config });
}

describe('GatewayApiModule on a real app with a real upstream', () => {
  let upstream: TestUpstream;
  let svc: RunningService;
  const key = { 'x-api-key': DEV_API_KEY };

  beforeAll(async () => {
    upstream = await new TestUpstream().start();
    const env = {
      INTENT_CLASSIFIER_URL: `http://127.0.0.1:${upstream.port}`,
      ANOMALY_DETECTOR_URL: `http://127.0.0.1:${upstream.port}`,
      CIRCUIT_BREAKER_FAILURE_THRESHOLD: '3',
      CIRCUIT_BREAKER_RECOVERY_TIMEOUT: '0.3',
      CIRCUIT_BREAKER_MIN_CALLS: '1000',
      LOG_LEVEL: 'silent',
      PORT: '0',
      // One upstream call at a time, so concurrent queries visibly gather into batches.
      GATEWAY_BATCH_CONCURRENCY: '1',
    };
    svc = await startGateway('gateway-test', env, 500);
    for (let i = 0; i < 50; i++) {
      const h = await call('/health/ready');
      if (h.body?.details?.upstreams?.['intent-classifier']?.version) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    await svc.shutdown();
    await upstream.stop();
  });

  async function call(path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await request(svc.url + path, {
      method: body === undefined ? 'GET' : 'POST',
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    });
    const text = await res.body.text();
    let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, body: json, text };
  }

  it('documents every route the app serves in its OpenAPI document', async () => {
    const doc = buildOpenApiDocument(svc.app) as unknown as { paths: Record<string, object>; components: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const documented = new Set(Object.entries(doc.paths as Record<string, object>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
    const fastify = svc.app.getHttpAdapter().getInstance();
    const served = fastify
      .printRoutes({ commonPrefix: false })
      .split('\n')
      .map((l: string) => /([─└├]+\s)?(\/\S*) \(([^)]+)\)/.exec(l))
      .filter(Boolean) as RegExpExecArray[];
    const expected = [
      'POST /predict/intent',
      'POST /predict/intent/batch',
      'POST /predict/anomaly',
      'POST /predict/anomaly/batch',
      'GET /v2',
      'GET /v2/health/live',
      'GET /v2/health/ready',
      'GET /v2/models/{name}',
      'GET /v2/models/{name}/ready',
      'GET /monitoring/health',
      'GET /monitoring/statistics',
    ];
    for (const route of expected) expect([route, documented.has(route)]).toEqual([route, true]);
    // Every prediction/monitoring/protocol route Fastify serves appears in the document.
    for (const m of served) {
      const path = m[2].replace(/:(\w+)/g, '{$1}');
      if (!/^\/(predict|monitoring|v2)/.test(path) || path.includes('*')) continue;
      for (const method of m[3].split(', ').filter((x) => x !== 'HEAD')) {
        expect([`${method} ${path}`, documented.has(`${method} ${path}`)]).toEqual([`${method} ${path}`, true]);
      }
    }
    expect(doc.components.securitySchemes['api-key']).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
  });

  it('forwards, coalesces and caches intent predictions', async () => {
    const a = await call('/predict/intent', { query: 'Where is my CARD' }, { ...key, 'x-request-id': 'abc-1' });
    expect(a.body).toMatchObject({ intent: 'card_arrival', cached: false });
    const b = await call('/predict/intent', { query: 'where is my card' }, key);
    expect(b.body.cached).toBe(true);
    const fwd = upstream.calls.find((c) => c.headers['x-request-id'] === 'abc-1');
    expect(fwd?.headers['x-request-timeout-ms']).toMatch(/^\d+$/);
    const before = upstream.calls.length;
    const many = await Promise.all(Array.from({ length: 30 }, (_, i) => call('/predict/intent', { query: `rate ${i}` }, key)));
    expect(many.every((r) => r.status === 200 && r.body.intent === 'exchange_rate')).toBe(true);
    expect(upstream.calls.length - before).toBeLessThan(30);
    const batch = await call('/predict/intent/batch', { queries: ['where is my card', 'rate 0', 'brand new'] }, key);
    expect(batch.body.predictions.map((p: { cached: boolean }) => p.cached)).toEqual([true, true, false]);
  });

  it('sends no upstream call larger than one run of the intent app (GATEWAY_BATCH_MAX, 16 by default)', async () => {
    const before = upstream.calls.length;
    const queries = Array.from({ length: 40 }, (_, i) => `split ${i}`);
    const answers = await Promise.all(queries.map((query) => call('/predict/intent', { query }, key)));
    expect(answers.every((r) => r.status === 200 && r.body.cached === false)).toBe(true);
    const sent = upstream.calls.slice(before).map((c) => (c.path === '/predict/intent/batch' ? (c.body.queries as string[]) : [c.body.query as string]));
    expect(sent.flat().sort()).toEqual([...queries].sort());
    expect(Math.max(...sent.map((q) => q.length))).toBeLessThanOrEqual(16);
    expect(sent.length).toBeGreaterThanOrEqual(3);
    // A client's own batch is split the same way.
    const mark = upstream.calls.length;
    const big = await call('/predict/intent/batch', { queries: Array.from({ length: 40 }, (_, i) => `bulk ${i}`) }, key);
    expect(big.body.predictions).toHaveLength(40);
    const bulk = upstream.calls.slice(mark).map((c) => (c.body.queries as string[] | undefined)?.length ?? 1);
    expect(bulk.reduce((a, b) => a + b, 0)).toBe(40);
    expect(Math.max(...bulk)).toBeLessThanOrEqual(16);
  });

  it('forwards anomaly requests without caching and checks configured rules first', async () => {
    expect((await call('/predict/anomaly', tx('t1'), key)).body.transaction_id).toBe('t1');
    expect((await call('/predict/anomaly', tx('t1'), key)).body.transaction_id).toBe('t1');
    expect(upstream.calls.filter((c) => c.path === '/predict/anomaly').length).toBe(2);
    const batch = await call('/predict/anomaly/batch', { transactions: [tx('a'), tx('b')] }, key);
    expect(batch.body.predictions).toHaveLength(2);
    const bad = await call('/predict/anomaly/batch', { transactions: [tx('a'), { ...tx('b'), amount: 5000 }] }, key);
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual([{ field: 'transactions[1].amount', message: 'must be at most 1000' }]);
  });

  it('passes an upstream 4xx through unchanged', async () => {
    upstream.mode = '422';
    try {
      const res = await call('/predict/anomaly', tx('t2'), key);
      expect(res.status).toBe(422);
      expect(res.body.detail).toBe('upstream says no');
    } finally {
      upstream.mode = 'ok';
    }
  });

  it('maps upstream 500 to 502, keeps 503 with Retry-After, times out slow calls with 504 (a client-shortened deadline does not count), then opens the breaker', async () => {
    upstream.mode = '500';
    const r500 = await call('/predict/anomaly', tx('t3'), key);
    expect(r500.status).toBe(502);
    expect(r500.text).not.toContain('internal');
    upstream.mode = '503';
    const r503 = await call('/predict/anomaly', tx('t4'), key);
    expect(r503.status).toBe(503);
    expect(r503.headers['retry-after']).toBeDefined();
    upstream.mode = 'slow';
    const short = await call('/predict/anomaly', tx('t5'), { ...key, 'x-request-timeout-ms': '100' });
    expect(short.status).toBe(504);
    // Two failures so far: a timeout within a deadline the client cut to 100 ms is not the upstream's fault.
    const health = await call('/monitoring/health', undefined, key);
    expect(health.body.upstreams['anomaly-detector'].breaker).toBe('closed');
    const slow = await call('/predict/anomaly', tx('t5b'), key);
    expect(slow.status).toBe(504);
    const open = await call('/predict/anomaly', tx('t6'), key);
    expect(open.status).toBe(503);
    expect(open.body.type).toBe('urn:ml-services:problem:upstream-circuit-open');
    upstream.mode = 'ok';
    await new Promise((r) => setTimeout(r, 400));
    expect((await call('/predict/anomaly', tx('t7'), key)).status).toBe(200);
  });

  it('passes a 503 the model app shed to the client with its Retry-After: never retried, never counted against the breaker', async () => {
    upstream.mode = 'shed';
    try {
      const before = upstream.calls.length;
      for (let i = 0; i < 8; i++) {
        const res = await call('/predict/anomaly', tx(`shed-${i}`), key);
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('2');
        expect(res.body.type).toBe('urn:ml-services:problem:overloaded');
      }
      // Eight requests, eight upstream calls: no retry on the endpoint that shed them.
      expect(upstream.calls.length - before).toBe(8);
      const health = await call('/monitoring/health', undefined, key);
      expect(health.body.upstreams['anomaly-detector'].breaker).toBe('closed');
    } finally {
      upstream.mode = 'ok';
    }
    expect((await call('/predict/anomaly', tx('after-shed'), key)).status).toBe(200);
  });

  it('never lets a body the client sent open a breaker (10,000-deep arrays on the protocol route)', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    for (let i = 0; i < 8; i++) {
      const res = await request(svc.url + '/v2/models/intent-classifier/infer', { method: 'POST', body: deep, headers: { ...key, 'content-type': 'application/json' } });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      await res.body.dump();
    }
    const health = await call('/monitoring/health', undefined, key);
    expect(health.body.upstreams['intent-classifier'].breaker).toBe('closed');
    expect((await call('/v2/models/intent-classifier/infer', { inputs: [] }, key)).status).toBe(200);
  });

  it('reports monitoring and statistics', async () => {
    const h = await call('/monitoring/health', undefined, key);
    expect(h.body.models['intent-classifier'].prediction_count).toBeGreaterThan(0);
    expect(h.body.models['anomaly-detector'].request_count).toBeGreaterThan(0);
    expect(h.body.cache.predictions.hits).toBeGreaterThan(0);
    const s = await call('/monitoring/statistics', undefined, key);
    expect(s.body['anomaly-detector'].counts_by_outcome.upstream_error).toBeGreaterThan(0);
    expect(s.body['intent-classifier'].recent.distribution.card_arrival).toBeGreaterThan(0);
  });

  it('proxies the protocol and answers unknown models and paths', async () => {
    expect((await call('/v2')).body.name).toBe('ml-services gateway');
    expect((await call('/v2/health/live')).body).toEqual({ live: true });
    expect((await call('/v2/health/ready')).status).toBe(200);
    expect((await call('/v2/models/intent-classifier', undefined, key)).body.versions).toEqual(['1.0.0']);
    expect((await call('/v2/models/intent-classifier/infer', { inputs: [] }, key)).body.model_name).toBe('intent-classifier');
    const wrongMethod = await call('/v2/models/intent-classifier/infer', undefined, key);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers['allow']).toBe('POST');
    expect((await call('/v2/models/other/ready', undefined, key)).status).toBe(404);
    expect((await call('/v2/whatever', undefined, key)).status).toBe(404);
  });
});

describe('Gateway recovery when an upstream becomes ready again', () => {
  let upstream: TestUpstream;
  let svc: RunningService;
  const key = { 'x-api-key': DEV_API_KEY };

  beforeAll(async () => {
    upstream = await new TestUpstream().start();
    const env = {
      INTENT_CLASSIFIER_URL: `http://127.0.0.1:${upstream.port}`,
      ANOMALY_DETECTOR_URL: `http://127.0.0.1:${upstream.port}`,
      CIRCUIT_BREAKER_FAILURE_THRESHOLD: '3',
      // A recovery timeout far longer than the test: only the readiness poll can close the breaker in time.
      CIRCUIT_BREAKER_RECOVERY_TIMEOUT: '60',
      UPSTREAM_POLL_INTERVAL_MS: '300',
      LOG_LEVEL: 'silent',
      PORT: '0',
    };
    svc = await startGateway('gateway-recovery', env, 1000);
  });
  afterAll(async () => {
    await svc.shutdown();
    await upstream.stop();
  });

  const predict = async () => {
    const res = await request(svc.url + '/predict/anomaly', { method: 'POST', body: JSON.stringify(tx('r')), headers: { ...key, 'content-type': 'application/json' } });
    const body = (await res.body.json()) as { type?: string };
    return { status: res.statusCode, type: body.type };
  };

  it('lets a probe through as soon as a readiness poll sees the upstream ready, long before the recovery timeout', async () => {
    upstream.mode = '500';
    upstream.ready = false;
    for (let i = 0; i < 3; i++) expect((await predict()).status).toBe(502);
    expect(await predict()).toEqual({ status: 503, type: 'urn:ml-services:problem:upstream-circuit-open' });
    // A poll that finds the upstream not ready changes nothing.
    await new Promise((r) => setTimeout(r, 500));
    expect((await predict()).type).toBe('urn:ml-services:problem:upstream-circuit-open');
    upstream.mode = 'ok';
    upstream.ready = true;
    const back = performance.now();
    let status = 0;
    while (status !== 200 && performance.now() - back < 5000) {
      status = (await predict()).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(200);
    // Within two poll intervals (plus slack for a loaded machine), not the 60 s recovery timeout.
    expect(performance.now() - back).toBeLessThan(2 * 300 + 900);
  });
});
