import { Controller, Get, Logger, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { markReceived } from '@ml/contracts';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { AppLogger, requestContext } from './app.logger';
import { createPino } from './log.root';
import Fastify from 'fastify';
import type { FastifyRequest } from 'fastify';
import { accessLine, installRequestLogging, LoggingModule, type LoggingOptions } from './logging.module';

@Controller()
class PingController {
  private readonly logger = new Logger('Ping');
  @Get('boom')
  boom() {
    throw new Error('kaput');
  }

  @Get('ping')
  ping() {
    this.logger.log('handling ping');
    return { pong: true };
  }
}

/** A Nest app on Fastify with the logging module, its lines collected. */
async function startLogged(requestContext: boolean, arrivedMsAgo?: number, extra: Partial<LoggingOptions> = {}) {
  const lines: Record<string, unknown>[] = [];
  const stream = new PassThrough();
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => c.split('\n').filter(Boolean).forEach((l) => lines.push(JSON.parse(l))));
  const mod: DynamicModule = {
    module: class TestModule {},
    imports: [LoggingModule.forRoot({ level: 'info', service: 'svc', stream, requestContext, ...extra })],
    controllers: [PingController],
  };
  Module({})(mod.module);
  const adapter = new FastifyAdapter({ genReqId: (req: { headers: Record<string, unknown> }) => String(req.headers['x-request-id'] ?? randomUUID()) });
  const app = await NestFactory.create<NestFastifyApplication>(mod, adapter, { bufferLogs: true });
  app.useLogger(app.get(AppLogger));
  // As libs/server stamps arrivals: the first request listener.
  if (arrivedMsAgo !== undefined) app.getHttpServer().prependListener('request', (req: IncomingMessage) => markReceived(req, performance.now() - arrivedMsAgo));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, lines, base: await app.getUrl() };
}

describe('LoggingModule without a request context (the default)', () => {
  it('stamps the request id on the access log only', async () => {
    const { app, lines, base } = await startLogged(false);
    try {
      await (await request(`${base}/ping`, { headers: { 'x-request-id': 'req-plain' } })).body.text();
      await new Promise((r) => setTimeout(r, 50));
      expect(lines.find((l) => l['msg'] === 'handling ping')).toMatchObject({ service: 'svc', context: 'Ping' });
      expect(lines.find((l) => l['msg'] === 'handling ping')).not.toHaveProperty('request_id');
      expect(lines.find((l) => l['msg'] === 'request completed')).toMatchObject({ request_id: 'req-plain', res: { statusCode: 200 } });
    } finally {
      await app.close();
    }
  });
});

describe('the access log', () => {
  it('measures responseTime from when the server first saw the request', async () => {
    const { app, lines, base } = await startLogged(false, 1500);
    try {
      await (await request(`${base}/ping`)).body.text();
      await new Promise((r) => setTimeout(r, 50));
      const line = lines.find((l) => l['msg'] === 'request completed');
      expect(line?.['responseTime']).toBeGreaterThanOrEqual(1500);
    } finally {
      await app.close();
    }
  });
});

describe('access-log sampling', () => {
  /** A bare Fastify app with the access log; `random` decides, in order, which successes are kept. */
  async function sampled(sample: number, randoms: number[]) {
    const lines: Record<string, unknown>[] = [];
    const stream = new PassThrough();
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => c.split('\n').filter(Boolean).forEach((l) => lines.push(JSON.parse(l))));
    const fastify = Fastify();
    let i = 0;
    installRequestLogging(fastify, createPino({ level: 'info', service: 'svc', stream }), false, { sample, slowRequestMs: 1000, random: () => randoms[i++ % randoms.length] });
    fastify.get('/ok', async () => ({ ok: true }));
    fastify.get('/slow', async () => new Promise((r) => setTimeout(() => r({ ok: true }), 1100)));
    fastify.get('/bad', async (_req, reply) => reply.code(422).send({ bad: true }));
    fastify.get('/boom', async () => {
      throw new Error('kaput');
    });
    await fastify.ready();
    const get = async (url: string) => (await fastify.inject({ method: 'GET', url })).statusCode;
    const logged = async () => {
      await new Promise((r) => setImmediate(r));
      return lines.map((l) => `${(l['req'] as { url: string }).url} ${(l['res'] as { statusCode: number }).statusCode} ${l['sampleRate'] ?? '-'}`);
    };
    return { get, logged, close: () => fastify.close() };
  }

  it('keeps the successes whose draw falls under the rate, marked with it', async () => {
    const app = await sampled(0.25, [0.1, 0.3, 0.2, 0.9]);
    for (let n = 0; n < 4; n++) expect(await app.get('/ok')).toBe(200);
    expect(await app.logged()).toEqual(['/ok 200 0.25', '/ok 200 0.25']);
    await app.close();
  });

  it('always logs errors and slow requests, without a sample mark', async () => {
    const app = await sampled(0.01, [0.99]);
    expect(await app.get('/ok')).toBe(200);
    expect(await app.get('/bad')).toBe(422);
    expect(await app.get('/nope')).toBe(404);
    expect(await app.get('/boom')).toBe(500);
    expect(await app.get('/slow')).toBe(200);
    expect(await app.logged()).toEqual(['/bad 422 -', '/nope 404 -', '/boom 500 -', '/slow 200 -']);
    await app.close();
  });

  it('logs every request at the default rate of 1', async () => {
    const app = await sampled(1, [0.99]);
    for (let n = 0; n < 3; n++) await app.get('/ok');
    expect(await app.logged()).toEqual(['/ok 200 -', '/ok 200 -', '/ok 200 -']);
    await app.close();
  });

  it('is configured through LoggingModule.forRoot', async () => {
    // A rate this small keeps no fast success in practice; the 404 is kept regardless.
    const { app, lines, base } = await startLogged(false, undefined, { accessLogSample: 1e-12, slowRequestMs: 1000 });
    try {
      for (let n = 0; n < 20; n++) await (await request(`${base}/ping`)).body.text();
      await (await request(`${base}/nope`)).body.text();
      await new Promise((r) => setTimeout(r, 50));
      expect(lines.filter((l) => l['req']).map((l) => (l['res'] as { statusCode: number }).statusCode)).toEqual([404]);
    } finally {
      await app.close();
    }
  });
});

describe('LoggingModule with a request context', () => {
  let lines: Record<string, unknown>[];
  let app: NestFastifyApplication;
  let base: string;

  beforeAll(async () => {
    ({ app, lines, base } = await startLogged(true));
  });
  afterAll(() => app.close());

  it('writes JSON lines carrying the service and the request id, with secrets redacted', async () => {
    const res = await request(`${base}/ping`, {
      headers: { 'x-request-id': 'req-77', 'x-api-key': 'sk-live-abcdef', authorization: 'Bearer sk-live-abcdef' },
    });
    await res.body.text();
    await new Promise((r) => setTimeout(r, 50));
    const handlerLine = lines.find((l) => l['msg'] === 'handling ping');
    expect(handlerLine).toMatchObject({ service: 'svc', request_id: 'req-77', context: 'Ping' });
    const done = lines.find((l) => l['msg'] === 'request completed');
    expect(done).toMatchObject({ level: 30, request_id: 'req-77' });
    expect((done as { req: { headers: Record<string, string> } }).req.headers['x-api-key']).toBe('[redacted]');
    expect(JSON.stringify(lines)).not.toContain('sk-live-abcdef');
  });

  it('logs a server error at error level with the request id', async () => {
    await (await request(`${base}/boom`, { headers: { 'x-request-id': 'req-500' } })).body.text();
    await new Promise((r) => setTimeout(r, 50));
    const line = lines.find((l) => l['request_id'] === 'req-500' && (l['res'] as { statusCode?: number })?.statusCode === 500);
    expect(line).toMatchObject({ level: 50 });
  });

  it('does not log probe and scrape requests, with or without a query string; logs paths that only start alike', async () => {
    const before = lines.length;
    const quiet = ['/health', '/health/live', '/health/ready?verbose=1', '/health?x', '/metrics', '/metrics?name[]=up', '/v2/health/live'];
    const logged = ['/healthz', '/metricsx', '/metrics/x', '/v2/healthy'];
    for (const path of [...quiet, ...logged]) await (await request(`${base}${path}`)).body.text();
    await new Promise((r) => setTimeout(r, 50));
    const urls = lines.slice(before).map((l) => (l['req'] as { url?: string } | undefined)?.url);
    expect(urls.filter((u) => u !== undefined).sort()).toEqual([...logged].sort());
  });
});

describe('AppLogger', () => {
  function capture(level = 'debug') {
    const lines: Record<string, unknown>[] = [];
    const stream = new PassThrough();
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => c.split('\n').filter(Boolean).forEach((l) => lines.push(JSON.parse(l))));
    const root = createPino({ level, service: 'svc', stream });
    return { lines, logger: new AppLogger(root), flush: () => new Promise((r) => setImmediate(r)) };
  }

  it('merges object messages, adds the context, and the request id only inside a request', async () => {
    const { lines, logger, flush } = capture();
    logger.warn({ msg: 'redis away', err: 'down' }, 'RateLimit');
    requestContext.run({ requestId: 'r-1' }, () => logger.log('inside', 'Ctx'));
    await flush();
    expect(lines[0]).toMatchObject({ level: 40, msg: 'redis away', err: 'down', context: 'RateLimit', service: 'svc' });
    expect(lines[0]).not.toHaveProperty('request_id');
    expect(lines[1]).toMatchObject({ level: 30, msg: 'inside', context: 'Ctx', request_id: 'r-1' });
  });

  it('serialises an Error as err, keeps a string stack, and maps every Nest level', async () => {
    const { lines, logger, flush } = capture('trace');
    logger.error(new TypeError('bad'), 'Svc');
    logger.error('failed', 'Error: failed\n    at x', 'Svc');
    logger.debug('d');
    logger.verbose('v');
    logger.fatal('f');
    await flush();
    expect(lines[0]).toMatchObject({ level: 50, msg: 'bad', context: 'Svc', err: { type: 'TypeError', message: 'bad' } });
    expect(lines[1]).toMatchObject({ level: 50, msg: 'failed', stack: 'Error: failed\n    at x', context: 'Svc' });
    expect(lines.slice(2).map((l) => l['level'])).toEqual([20, 10, 60]);
  });

  it("logs Nest's per-module and per-route boot lines at debug", async () => {
    const { lines, logger, flush } = capture('debug');
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    logger.log('Mapped {/x, GET} route', 'RouterExplorer');
    logger.log('Nest application successfully started', 'NestApplication');
    await flush();
    expect(lines.map((l) => [l['level'], l['context']])).toEqual([
      [20, 'InstanceLoader'],
      [20, 'RouterExplorer'],
      [30, 'NestApplication'],
    ]);
  });

  it('writes nothing below its level', async () => {
    const { lines, logger, flush } = capture('warn');
    logger.log('quiet');
    logger.debug('quieter');
    logger.warn('loud');
    await flush();
    expect(lines.map((l) => l['msg'])).toEqual(['loud']);
  });
});

describe('accessLine', () => {
  /** What pino itself writes for the same fields: the hand-built line must parse to the same object. */
  function pinoLine(level: 'info' | 'error', fields: Record<string, unknown>, msg: string): Record<string, unknown> {
    const out: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => out.push(chunk.toString('utf8')));
    const log = createPino({ level: 'info', service: 'svc', stream, redact: false });
    log[level](fields, msg);
    return JSON.parse(out.join('')) as Record<string, unknown>;
  }
  const without = (o: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

  it.each([
    ['info', 200, { 'user-agent': 'curl/8 "quoted" \u2028', 'x-api-key': 'secret', authorization: 'Bearer t' }, 'req-1', '10.0.0.1', undefined],
    ['info', 422, {}, 42, undefined, 0.25],
    ['error', 503, { 'user-agent': 'ua' }, 'req-\n"odd"', '::1', undefined],
  ] as const)('writes what pino would for a %s line (status %d)', (level, status, headers, id, ip, sampleRate) => {
    const request = { id, method: 'POST', url: '/predict/intent?x="1"', ip, headers } as unknown as FastifyRequest;
    const log = createPino({ level: 'info', service: 'svc', stream: new PassThrough(), redact: false });
    const line = accessLine(log, level, request, status, 1.23456, sampleRate);
    expect(line.endsWith('}\n')).toBe(true);
    const expectedHeaders: Record<string, string> = {};
    if ('user-agent' in headers) expectedHeaders['user-agent'] = headers['user-agent'];
    if ('x-api-key' in headers) expectedHeaders['x-api-key'] = '[redacted]';
    if ('authorization' in headers) expectedHeaders['authorization'] = '[redacted]';
    const fields: Record<string, unknown> = { request_id: id, req: { method: 'POST', url: request.url, remoteAddress: ip, headers: expectedHeaders }, res: { statusCode: status }, responseTime: 1.235 };
    if (sampleRate !== undefined) fields['sampleRate'] = sampleRate;
    const expected = pinoLine(level, fields, status >= 500 ? 'request errored' : 'request completed');
    const got = JSON.parse(line) as Record<string, unknown>;
    expect(typeof got['time']).toBe('number');
    expect(without(got, 'time')).toEqual(without(expected, 'time'));
    expect(Object.keys(got)).toEqual(Object.keys(expected));
  });
});
