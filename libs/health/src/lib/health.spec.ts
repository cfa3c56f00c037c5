import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { request } from 'undici';
import { HealthModule } from './health.module';
import { LifecycleService } from './lifecycle.service';

describe('LifecycleService', () => {
  it('moves starting -> ready -> draining and is ready only with every gate open', () => {
    const l = new LifecycleService();
    expect(l.current).toBe('starting');
    expect(l.ready).toBe(false);
    l.markBooted();
    expect(l.ready).toBe(true);
    let warmed = false;
    l.addGate('model', () => warmed);
    l.addGate('throws', () => {
      throw new Error('broken gate');
    });
    expect(l.gateStates()).toEqual({ model: false, throws: false });
    l.addGate('throws', () => true);
    expect(l.ready).toBe(false);
    warmed = true;
    expect(l.ready).toBe(true);
    l.startDraining();
    expect(l.draining).toBe(true);
    expect(l.ready).toBe(false);
    l.markBooted();
    expect(l.current).toBe('draining');
  });

  it('reports info providers and survives one that throws', () => {
    const l = new LifecycleService();
    l.addInfo('redis', () => ({ connected: true }));
    l.addInfo('bad', () => {
      throw new Error('x');
    });
    expect(l.infoStates()).toEqual({ redis: { connected: true }, bad: { error: 'unavailable' } });
  });

  describe('waitForIdle', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('resolves at once when nothing is in flight', async () => {
      await expect(new LifecycleService().waitForIdle(10)).resolves.toBe(true);
    });

    it('resolves true when the last request finishes', async () => {
      const l = new LifecycleService();
      l.requestStarted();
      l.requestStarted();
      const idle = l.waitForIdle(1000);
      l.requestFinished();
      jest.advanceTimersByTime(500);
      l.requestFinished();
      await expect(idle).resolves.toBe(true);
      expect(l.requestsInFlight).toBe(0);
    });

    it('resolves false when the time runs out first, and never counts below zero', async () => {
      const l = new LifecycleService();
      l.requestStarted();
      const idle = l.waitForIdle(1000);
      jest.advanceTimersByTime(1000);
      await expect(idle).resolves.toBe(false);
      l.requestFinished();
      l.requestFinished();
      expect(l.requestsInFlight).toBe(0);
    });
  });
});

@Module({ imports: [HealthModule] })
class AppModule {}

describe('health endpoints on a real app', () => {
  let app: NestFastifyApplication;
  let base: string;
  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = await app.getUrl();
  });
  afterAll(() => app.close());
  const get = async (p: string) => {
    const r = await request(base + p);
    return { status: r.statusCode, body: (await r.body.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('is live while starting, ready once booted, 503 while draining', async () => {
    const lifecycle = app.get(LifecycleService);
    expect((await get('/health/live')).status).toBe(200);
    const starting = await get('/health/ready');
    expect(starting.status).toBe(503);
    expect(starting.body['error'].process).toEqual({ status: 'down', phase: 'starting' });
    lifecycle.markBooted();
    lifecycle.addInfo('upstreams', () => ({ 'intent-classifier': { breaker: 'open' } }));
    const ready = await get('/health');
    expect(ready.status).toBe(200);
    expect(ready.body['details'].upstreams).toEqual({ status: 'up', 'intent-classifier': { breaker: 'open' } });
    lifecycle.startDraining();
    expect((await get('/health/ready')).status).toBe(503);
    expect((await get('/health/live')).status).toBe(200);
  });
});
