import { http } from './support/http';
import { runToExit, startApp, waitForLine, type AppName, type RunningApp } from './support/processes';

const APPS: AppName[] = ['gateway', 'intent-classifier', 'anomaly-detector'];

describe.each(APPS)('%s: the platform basics every app shares', (name) => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(name);
    // Model apps listen first and turn ready once their model is loaded and warmed.
    for (let i = 0; i < 300 && (await http(`${app.url}/health/ready`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('answers liveness, readiness and the /health alias', async () => {
    const live = await http(`${app.url}/health/live`);
    expect(live.status).toBe(200);
    expect(live.json).toEqual({ status: 'ok' });
    const ready = await http(`${app.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json.status).toBe('ok');
    expect(ready.json.details.process).toEqual({ status: 'up', phase: 'ready' });
    const alias = await http(`${app.url}/health`);
    expect(alias.status).toBe(200);
    expect(alias.json.details).toEqual(ready.json.details);
  });

  it('serves Prometheus text from its own registry, labelled with the service', async () => {
    await http(`${app.url}/health/live`);
    const res = await http(`${app.url}/metrics`);
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toContain(`process_cpu_user_seconds_total{service="${name}"}`);
    expect(res.text).toContain(`http_request_duration_seconds_count{service="${name}",method="GET",route="/health/live",status_code="200"}`);
  });

  it('answers an unknown path with a 404 problem+json carrying the request id', async () => {
    const res = await http(`${app.url}/no/such/path`, { headers: { 'x-request-id': 'client-id-123' } });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(res.headers['x-request-id']).toBe('client-id-123');
    expect(res.json).toEqual({
      type: 'urn:ml-services:problem:not-found',
      title: 'Not Found',
      status: 404,
      detail: 'Cannot GET /no/such/path',
      instance: '/no/such/path',
      request_id: 'client-id-123',
    });
  });

  it('replaces a malformed X-Request-Id with a fresh one', async () => {
    const res = await http(`${app.url}/health/live`, { headers: { 'x-request-id': 'bad id\twith "quotes"' } });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends hardening headers and no X-Powered-By', async () => {
    const res = await http(`${app.url}/health/live`);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('rejects malformed JSON with 400, never 500', async () => {
    const res = await http(`${app.url}/anything`, { raw: '{"query": ', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.json.type).toBe('urn:ml-services:problem:malformed-json');
    expect(res.json.request_id).toEqual(res.headers['x-request-id']);
  });

  it.each([
    ['__proto__', '{"__proto__": {"polluted": true}}'],
    ['constructor.prototype', '{"a": {"constructor": {"prototype": {"polluted": true}}}}'],
  ])('rejects a body with %s with 400', async (_key, raw) => {
    const res = await http(`${app.url}/anything`, { raw, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.json.detail).toMatch(/forbidden key/);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('rejects a body over BODY_LIMIT with 413, declared or streamed', async () => {
    const big = JSON.stringify({ query: 'x'.repeat(70 * 1024) });
    const declared = await http(`${app.url}/anything`, { raw: big, headers: { 'content-type': 'application/json' } });
    expect(declared.status).toBe(413);
    expect(declared.json.title).toBe('Content Too Large');
  });

  it('logs JSON lines with the request id and never a secret', async () => {
    await http(`${app.url}/no/such/thing`, { headers: { 'x-request-id': 'log-check-1', 'x-api-key': 'super-secret-value' } });
    const line = await waitForLine(app, (l) => l.includes('log-check-1'));
    expect(line).toBeDefined();
    const entry = JSON.parse(line as string);
    expect(entry.request_id).toBe('log-check-1');
    expect(entry.service).toBe(name);
    expect(app.lines.join('\n')).not.toContain('super-secret-value');
  });
});

describe('configuration is validated at boot', () => {
  it.each([
    ['gateway', { PORT: 'eighty' }, 'PORT'],
    ['gateway', { INTENT_CLASSIFIER_URL: 'not a url' }, 'INTENT_CLASSIFIER_URL'],
    ['gateway', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['intent-classifier', { BODY_LIMIT: 'lots' }, 'BODY_LIMIT'],
    ['anomaly-detector', { TRUST_PROXY: '10.0.0.0/99' }, 'TRUST_PROXY'],
  ] as const)('%s with %j stops with a message naming %s', async (name, env, variable) => {
    const { code, output } = await runToExit(name, env);
    expect(code).not.toBe(0);
    expect(output).toContain(`Invalid configuration: ${variable}`);
  });

  it('accepts the original upper-case LOG_LEVEL', async () => {
    const app = await startApp('gateway', { LOG_LEVEL: 'INFO' });
    expect((await http(`${app.url}/health/live`)).status).toBe(200);
    await app.stop();
  });
});
