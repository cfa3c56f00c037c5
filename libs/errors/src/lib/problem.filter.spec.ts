import { Controller, Get, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { request } from 'undici';
import { ServiceError, ValidationFailedError } from './problem.errors';
import { ProblemFilter, ProblemLog } from './problem.filter';

@Controller()
class ThrowingController {
  @Get('predict/boom')
  boom() {
    throw new Error('secret internals');
  }
  @Get('predict/full')
  full() {
    throw new ServiceError('QUEUE_FULL', 'queue has 512 items', { retryAfterSeconds: 1, publicDetail: 'Too busy; retry shortly.' });
  }
  @Get('predict/open')
  open() {
    throw new ServiceError('BREAKER_OPEN', 'breaker open', { retryAfterSeconds: 1, publicDetail: 'The model is unavailable; retry shortly.' });
  }
  @Get('predict/other')
  other() {
    throw new ServiceError('UPSTREAM_FAILED', 'upstream said 500', { publicDetail: 'The model failed.' });
  }
  @Get('v2/models/m/infer')
  oip() {
    throw new ValidationFailedError([{ field: 'inputs[0].data', message: 'must be strings' }], 'Invalid inference request.');
  }
  @Get('v2/models/m/boom')
  oipBoom() {
    throw new Error('secret internals');
  }
}

@Module({ controllers: [ThrowingController] })
class TestModule {}

describe('ProblemFilter on a real app', () => {
  let app: NestFastifyApplication;
  let base: string;
  const log = new ProblemLog(60_000);
  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new ProblemFilter(log));
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = await app.getUrl();
  });
  afterAll(() => {
    log.close();
    return app.close();
  });

  const get = async (path: string) => {
    const res = await request(base + path);
    return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Record<string, unknown> };
  };

  it('answers an unexpected error with an opaque 500 problem', async () => {
    const res = await get('/predict/boom');
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(JSON.stringify(res.body)).not.toContain('secret');
    expect(res.body['instance']).toBe('/predict/boom');
  });

  it('adds Retry-After and shows only the public detail', async () => {
    const res = await get('/predict/full?x=1');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body['detail']).toBe('Too busy; retry shortly.');
    expect(res.body['instance']).toBe('/predict/full');
  });

  it('speaks the Open Inference Protocol error shape on /v2 paths', async () => {
    const res = await get('/v2/models/m/infer');
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body).toEqual({ error: 'Invalid inference request. inputs[0].data: must be strings' });
    const boom = await get('/v2/models/m/boom');
    expect(boom.status).toBe(500);
    expect(JSON.stringify(boom.body)).not.toContain('secret');
  });
});

describe('ProblemFilter logging under a storm of identical failures', () => {
  let app: NestFastifyApplication;
  let base: string;
  const log = new ProblemLog(1000);
  const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new ProblemFilter(log));
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = await app.getUrl();
  });
  afterAll(() => {
    log.close();
    warn.mockRestore();
    error.mockRestore();
    return app.close();
  });
  const hit = async (path: string, times: number) => {
    await Promise.all(
      Array.from({ length: times }, async () => {
        const res = await request(base + path);
        await res.body.dump();
      }),
    );
  };

  it('logs the first 503 of a kind at once, counts the rest, then writes one summary', async () => {
    warn.mockClear();
    await hit('/predict/open', 50);
    await hit('/predict/other', 3);
    const lines = warn.mock.calls.map(([line]) => line as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ code: 'BREAKER_OPEN', msg: 'The model is unavailable; retry shortly.', request_id: expect.any(String) }),
      expect.objectContaining({ code: 'UPSTREAM_FAILED', msg: 'The model failed.' }),
    ]);
    await new Promise((r) => setTimeout(r, 1100));
    const summaries = warn.mock.calls.slice(2).map(([line]) => line as Record<string, unknown>);
    expect(summaries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'BREAKER_OPEN', suppressed: 49 }),
        expect.objectContaining({ code: 'UPSTREAM_FAILED', suppressed: 2 }),
      ]),
    );
    expect(summaries).toHaveLength(2);
  });

  it('logs an unexpected error once with its stack, then a count', async () => {
    error.mockClear();
    await hit('/predict/boom', 20);
    expect(error).toHaveBeenCalledTimes(1);
    const first = error.mock.calls[0][0] as { err: Error };
    expect(first.err.stack).toContain('secret internals');
    await new Promise((r) => setTimeout(r, 1100));
    expect(error).toHaveBeenCalledTimes(2);
    expect(error.mock.calls[1][0]).toEqual(expect.objectContaining({ error: 'Error: secret internals', suppressed: 19 }));
  });
});
