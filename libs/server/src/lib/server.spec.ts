import { Body, Controller, Get, Module, Post, type DynamicModule } from '@nestjs/common';
import { loadServiceConfig } from '@ml/config';
import { LifecycleService } from '@ml/health';
import { connect } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { request } from 'undici';
import { startService, type RunningService } from './bootstrap';
import { CoreModule } from './core.module';

@Controller('things')
class ThingsController {
  @Post()
  one(@Body() body: unknown) {
    return { got: body };
  }
  @Post('batch')
  many(@Body() body: unknown) {
    return { size: JSON.stringify(body).length };
  }
  @Get('boom')
  boom() {
    throw new Error('internal detail');
  }
}

const logs: string[] = [];
const logStream = new PassThrough();
logStream.setEncoding('utf8');
logStream.on('data', (chunk: string) => logs.push(...chunk.split('\n').filter(Boolean)));

function testModule(gate: { open: boolean }): DynamicModule {
  const config = loadServiceConfig(0, { PORT: '0', SHUTDOWN_DELAY_MS: '300', SHUTDOWN_DRAIN_MS: '5000' });
  @Module({ imports: [CoreModule.forRoot({ service: 'test-svc', config, logStream })], controllers: [ThingsController] })
  class TestModule {
    constructor(lifecycle: LifecycleService) {
      lifecycle.addGate('model', () => gate.open);
      lifecycle.addInfo('upstream', () => ({ breaker: 'closed' }));
    }
  }
  return { module: TestModule };
}

const call = async (url: string, opts: { method?: string; body?: string | Readable; headers?: Record<string, string> } = {}) => {
  const res = await request(url, { method: (opts.method ?? 'GET') as 'GET', body: opts.body, headers: opts.headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: text.startsWith("{") ? JSON.parse(text) : undefined };
};

describe('a service built by startService, on a real port', () => {
  const gate = { open: false };
  let svc: RunningService;
  beforeAll(async () => {
    const config = loadServiceConfig(0, { PORT: '0', SHUTDOWN_DELAY_MS: '300', SHUTDOWN_DRAIN_MS: '5000' });
    svc = await startService({ name: 'test-svc', module: testModule(gate), config });
  });
  afterAll(async () => {
    await svc.shutdown('test end');
  });

  it('is not ready until every gate is open, and shows info without failing on it', async () => {
    const closed = await call(`${svc.url}/health/ready`);
    expect(closed.status).toBe(503);
    expect(closed.json.error.model).toEqual({ status: 'down' });
    gate.open = true;
    const open = await call(`${svc.url}/health/ready`);
    expect(open.status).toBe(200);
    expect(open.json.details.upstream).toEqual({ status: 'up', breaker: 'closed' });
  });

  it('parses JSON bodies and answers other media types with 415', async () => {
    const ok = await call(`${svc.url}/things`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(ok.json).toEqual({ got: { a: 1 } });
    const text = await call(`${svc.url}/things`, { method: 'POST', body: 'a=1', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    const empty = await call(`${svc.url}/things`, { method: 'POST', body: '', headers: { 'content-type': 'application/json' } });
    expect(empty.status).toBe(400);
  });

  it('gives batch routes the larger body limit', async () => {
    const body = JSON.stringify({ queries: Array.from({ length: 1000 }, () => 'x'.repeat(100)) });
    expect(body.length).toBeGreaterThan(64 * 1024);
    expect((await call(`${svc.url}/things`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).status).toBe(413);
    expect((await call(`${svc.url}/things/batch`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).status).toBe(201);
    const chunked = await call(`${svc.url}/things`, {
      method: 'POST',
      // A stream has no declared length: undici sends it chunked, so only the parser can refuse it.
      body: Readable.from([body.slice(0, 40_000), body.slice(40_000)]),
      headers: { 'content-type': 'application/json' },
    });
    expect(chunked.status).toBe(413);
  });

  it('hides internal errors and logs them with the request id', async () => {
    const res = await call(`${svc.url}/things/boom`, { headers: { 'x-request-id': 'boom-1' } });
    expect(res.status).toBe(500);
    expect(res.text).not.toContain('internal detail');
    await new Promise((r) => setTimeout(r, 50));
    expect(logs.some((l) => l.includes('boom-1') && l.includes('"level":50'))).toBe(true);
  });

  it('records request durations by route template', async () => {
    const res = await call(`${svc.url}/metrics`);
    expect(res.text).toMatch(/http_request_duration_seconds_count\{service="test-svc",method="POST",route="\/things",status_code="201"\} [1-9]/);
    expect(res.text).toContain('ml_prediction_total');
  });

  it('on shutdown fails readiness first, then finishes the request in flight', async () => {
    // A request whose headers have arrived but whose body is still coming is truly in flight.
    const socket = connect(svc.port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const body = '{"slow": "client"}';
    socket.write(`POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{"slow"`);
    let response = '';
    socket.on('data', (d) => (response += d.toString()));
    await new Promise((r) => setTimeout(r, 50));

    const stopping = svc.shutdown('test');
    const duringDrain = await call(`${svc.url}/health/ready`);
    expect(duringDrain.status).toBe(503);
    expect(duringDrain.json.details.process).toEqual({ status: 'down', phase: 'draining' });

    socket.write(body.slice('{"slow"'.length));
    expect(await stopping).toBe(true);
    expect(response).toMatch(/^HTTP\/1\.1 201/);
    expect(response).toContain('{"got":{"slow":"client"}}');
    socket.destroy();
  });
});

describe('shutdown with no readiness delay', () => {
  it('closes the connection of a request in flight once answered, so the drain ends with it', async () => {
    const config = loadServiceConfig(0, { PORT: '0', SHUTDOWN_DELAY_MS: '0', SHUTDOWN_DRAIN_MS: '5000' });
    const svc = await startService({ name: 'test-svc', module: testModule({ open: true }), config });
    const socket = connect(svc.port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const body = '{"slow": "client"}';
    // HTTP/1.1, keep-alive by default: without Connection: close the idle socket would hold the drain.
    socket.write(`POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{"slow"`);
    let response = '';
    socket.on('data', (d) => (response += d.toString()));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    await new Promise((r) => setTimeout(r, 50));

    const started = Date.now();
    const stopping = svc.shutdown('test');
    await new Promise((r) => setTimeout(r, 50));
    socket.write(body.slice('{"slow"'.length));
    expect(await stopping).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    await closed;
    expect(response).toMatch(/^HTTP\/1\.1 201/);
    expect(response.toLowerCase()).toContain('connection: close');
  });
});
