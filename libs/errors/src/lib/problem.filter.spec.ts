import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { request } from 'undici';
import { ServiceError, ValidationFailedError } from './problem.errors';
import { ProblemFilter } from './problem.filter';

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
  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new ProblemFilter());
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = await app.getUrl();
  });
  afterAll(() => app.close());

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
