import { DynamicModule, Module } from '@nestjs/common';
import { ApiKeyGuard, AuthModule, loadAuthConfig, sha256 } from '@ml/auth';
import { loadServiceConfig } from '@ml/config';
import { RateLimitGuard, RateLimitModule } from '@ml/rate-limit';
import { CoreModule, startService, type RunningService } from '@ml/server';
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { loadGatewaySettings } from './gateway.config';
import { GatewayApiModule } from './gateway-api.module';
import { predictRoutes } from './predict.direct';

const ALL = 'all-models-secret-0123456789';
const INTENT_ONLY = 'intent-only-secret-0123456789';
const ANOMALY_ONLY = 'anomaly-only-secret-0123456789';
const LIMIT = 6;

/** A model app as the gateway sees it: readiness, metadata and intent answers over real HTTP. */
function upstream(): Promise<Server> {
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const predict = (q: string) => ({ intent: q.includes('card') ? 'card_arrival' : 'exchange_rate', confidence: 0.9, top: [], model: { name: 'intent-classifier', version: '1.0.0' } });
      if (req.url === '/health/ready') return send(200, { status: 'ok' });
      if (req.url?.startsWith('/v2/models/intent-classifier')) return send(200, { name: 'intent-classifier', versions: ['1.0.0'] });
      if (req.url === '/predict/intent') return send(200, predict(JSON.parse(raw).query));
      if (req.url === '/predict/intent/batch') return send(200, { predictions: JSON.parse(raw).queries.map(predict) });
      send(404, { error: 'not here' });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('prediction routes served directly by Fastify', () => {
  let model: Server;
  let svc: RunningService;
  const canActivate = { auth: jest.spyOn(ApiKeyGuard.prototype, 'canActivate'), limit: jest.spyOn(RateLimitGuard.prototype, 'canActivate') };
  const authenticate = jest.spyOn(ApiKeyGuard.prototype, 'authenticate');
  const charge = jest.spyOn(RateLimitGuard.prototype, 'charge');

  beforeAll(async () => {
    model = await upstream();
    const url = `http://127.0.0.1:${(model.address() as { port: number }).port}`;
    const config = loadServiceConfig(0, { LOG_LEVEL: 'silent', PORT: '0' });
    const keys = [`all:${sha256(ALL).toString('hex')}`, `intent:${sha256(INTENT_ONLY).toString('hex')}:intent-classifier`, `anomaly:${sha256(ANOMALY_ONLY).toString('hex')}:anomaly-detector`];
    const mod: DynamicModule = {
      module: class DirectRoutesTestModule {},
      imports: [
        CoreModule.forRoot({ service: 'gateway-direct-test', config }),
        AuthModule.forRoot(loadAuthConfig({ ML_API_KEYS: keys.join(',') })),
        RateLimitModule.forRoot({ requests: LIMIT, windowSeconds: 60, globalGuard: false }),
        GatewayApiModule.forRoot({
          settings: loadGatewaySettings({ INTENT_CLASSIFIER_URL: url, ANOMALY_DETECTOR_URL: url }),
          options: { requestTimeoutMs: 2000, transactionRules: { maxAmount: 1000, maxFutureMs: 86_400_000 } },
        }),
      ],
    };
    Module({})(mod.module);
    svc = await startService({ name: 'gateway-direct-test', module: mod, config });
  });
  afterAll(async () => {
    await svc?.shutdown();
    model?.closeAllConnections();
    await new Promise((r) => model?.close(r));
    jest.restoreAllMocks();
  });
  beforeEach(() => jest.clearAllMocks());

  async function post(path: string, body: unknown, key?: string) {
    const res = await request(svc.url + path, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    });
    return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Record<string, unknown> };
  }

  it('finds the four routes, their scopes and their costs in PredictController', () => {
    const routes = predictRoutes().map((r) => ({ route: `${r.method} ${r.url}`, scope: r.scope, cost: typeof r.cost }));
    expect(routes.sort((a, b) => a.route.localeCompare(b.route))).toEqual([
      { route: 'POST /predict/anomaly', scope: 'anomaly-detector', cost: 'function' },
      { route: 'POST /predict/anomaly/batch', scope: 'anomaly-detector', cost: 'function' },
      { route: 'POST /predict/intent', scope: 'intent-classifier', cost: 'function' },
      { route: 'POST /predict/intent/batch', scope: 'intent-classifier', cost: 'function' },
    ]);
  });

  it('checks the key and scope, charges the batch its size and answers, without Nest guards', async () => {
    const ok = await post('/predict/intent/batch', { queries: ['my card', 'rates', 'card again'] }, INTENT_ONLY);
    expect(ok.status).toBe(200);
    expect((ok.body['predictions'] as { intent: string }[]).map((p) => p.intent)).toEqual(['card_arrival', 'exchange_rate', 'card_arrival']);
    expect(ok.headers['ratelimit']).toBe(`"default";r=${LIMIT - 3};t=60`);
    expect(ok.headers['ratelimit-policy']).toBe(`"default";q=${LIMIT};w=60`);
    expect(authenticate).toHaveBeenCalledWith(expect.anything(), 'intent-classifier');
    expect(charge).toHaveBeenCalledTimes(1);
    expect(charge.mock.calls[0][2]).toBe(3);
    // The pipeline Nest would have run for this route never ran.
    expect(canActivate.auth).not.toHaveBeenCalled();
    expect(canActivate.limit).not.toHaveBeenCalled();
  });

  it('answers 401, 403, 422 and 429 as problem+json, as the Nest pipeline did', async () => {
    const missing = await post('/predict/intent', { query: 'hi' });
    expect(missing.status).toBe(401);
    expect(missing.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(missing.body).toMatchObject({ status: 401, type: 'urn:ml-services:problem:unauthorized', instance: '/predict/intent' });
    expect((await post('/predict/intent', { query: 'hi' }, 'wrong')).status).toBe(401);

    const forbidden = await post('/predict/intent', { query: 'hi' }, ANOMALY_ONLY);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body['detail']).toBe('The API key "anomaly" may not call intent-classifier.');
    // Refused before the limiter: a refused key is not charged.
    expect(charge).not.toHaveBeenCalled();

    const invalid = await post('/predict/intent', { query: '' }, ALL);
    expect(invalid.status).toBe(422);
    expect(invalid.body['errors']).toEqual([{ field: 'query', message: 'must not be empty or only whitespace' }]);

    // `all` has spent 1 of its 6 units on the invalid request (charged before validation, as before).
    const tooBig = await post('/predict/intent/batch', { queries: ['a', 'b', 'c', 'd', 'e', 'f'] }, ALL);
    expect(tooBig.status).toBe(429);
    expect(tooBig.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(Number(tooBig.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(tooBig.body).toMatchObject({ status: 429, type: 'urn:ml-services:problem:rate-limited' });
    expect(canActivate.auth).not.toHaveBeenCalled();
    expect(canActivate.limit).not.toHaveBeenCalled();
  });

  it('leaves every other route to Nest and its guards', async () => {
    const res = await request(`${svc.url}/v2/models/intent-classifier`, { headers: { 'x-api-key': ALL } });
    await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(canActivate.auth).toHaveBeenCalled();
  });
});
