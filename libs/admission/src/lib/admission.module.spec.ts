import { Controller, Get, Global, HttpCode, Module, Post, Query } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ProblemFilter } from '@ml/errors';
import { MetricsModule } from '@ml/metrics';
import { connect } from 'node:net';
import { request } from 'undici';
import { loadAdmissionSettings } from './admission.config';
import { AdmissionModule, AdmissionService } from './admission.module';

@Controller()
class SlowController {
  @Post('predict/slow')
  @HttpCode(200)
  async slow(@Query('ms') ms = '0') {
    await new Promise((r) => setTimeout(r, Number(ms)));
    return { ok: true };
  }
  @Get('health/live')
  live() {
    return { status: 'ok' };
  }
}

// As in the apps (CoreModule), the metrics registry is process-wide infrastructure.
const metrics = MetricsModule.forRoot({ service: 'test' });
@Global()
@Module({ imports: [metrics], exports: [metrics] })
class GlobalMetrics {}

@Module({
  imports: [
    GlobalMetrics,
    AdmissionModule.forRoot({
      settings: loadAdmissionSettings({ ADMISSION_MIN_IN_FLIGHT: '2', ADMISSION_MAX_IN_FLIGHT: '50' }),
      targets: ['slow'],
      targetOf: (method, path) => (method === 'POST' && path.startsWith('/predict/') ? 'slow' : undefined),
      keyOf: (req) => String(req.headers['x-client'] ?? req.ip),
      remainingMs: (req) => Number(req.headers['x-remaining'] ?? 2000),
    }),
  ],
  controllers: [SlowController],
})
class TestModule {}

describe('AdmissionModule on a real app', () => {
  let app: NestFastifyApplication;
  let base: string;
  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new ProblemFilter());
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = await app.getUrl();
  });
  afterAll(() => app.close());

  const post = async (path: string, remainingMs = 2000) => {
    const started = performance.now();
    const res = await request(base + path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-remaining': String(remainingMs) }, body: '{}' });
    return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Record<string, unknown>, ms: performance.now() - started };
  };

  it('sheds at once with a 503 problem, Retry-After and the shed mark when nothing can finish in time; probes are never shed; work is admitted again once it completes', async () => {
    const hung = [post('/predict/slow?ms=900'), post('/predict/slow?ms=900')];
    // Nothing has completed for 300 ms: a request with 100 ms left cannot expect to finish.
    await new Promise((r) => setTimeout(r, 300));
    const shed = await post('/predict/slow', 100);
    expect(shed.status).toBe(503);
    expect(shed.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.headers['x-ml-shed']).toBe('1');
    expect(shed.body['type']).toBe('urn:ml-services:problem:overloaded');
    expect(shed.ms).toBeLessThan(500);
    const live = await request(base + '/health/live');
    expect(live.statusCode).toBe(200);
    await live.body.dump();
    const service = app.get(AdmissionService);
    expect(service.snapshot()['slow'].inFlight).toBe(2);
    expect((await Promise.all(hung)).map((r) => r.status)).toEqual([200, 200]);
    expect(service.snapshot()['slow'].inFlight).toBe(0);
    expect((await post('/predict/slow')).status).toBe(200);
    const metrics = await request(base + '/metrics');
    const text = await metrics.body.text();
    expect(text).toMatch(/ml_load_shed_total\{target="slow",reason="deadline"(,service="test")?\} 1/);
    expect(text).toMatch(/ml_admission_in_flight\{target="slow"/);
  });

  it('releases a request whose client hung up after sending all of it (no response, no abort hook)', async () => {
    const service = app.get(AdmissionService);
    const { port, hostname } = new URL(base);
    const body = '{}';
    const sockets = Array.from({ length: 5 }, () => {
      const socket = connect(Number(port), hostname);
      socket.on('error', () => undefined);
      socket.write(`POST /predict/slow?ms=200 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      return socket;
    });
    for (let i = 0; i < 50 && service.snapshot()['slow'].inFlight < 5; i++) await new Promise((r) => setTimeout(r, 10));
    expect(service.snapshot()['slow'].inFlight).toBe(5);
    for (const s of sockets) s.destroy();
    for (let i = 0; i < 100 && service.snapshot()['slow'].inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(service.snapshot()['slow'].inFlight).toBe(0);
    expect((await post('/predict/slow')).status).toBe(200);
  });
});

describe('loadAdmissionSettings', () => {
  it('has production defaults and reads every variable', () => {
    expect(loadAdmissionSettings({})).toEqual({ enabled: true, minInFlight: 32, maxInFlight: 1024, fairnessAt: 0.5, windowMs: 1000 });
    expect(
      loadAdmissionSettings({ ADMISSION_ENABLED: 'false', ADMISSION_MIN_IN_FLIGHT: '8', ADMISSION_MAX_IN_FLIGHT: '4', ADMISSION_FAIRNESS_AT: '0.8', ADMISSION_WINDOW_MS: '500' }),
    ).toEqual({ enabled: false, minInFlight: 8, maxInFlight: 8, fairnessAt: 0.8, windowMs: 500 });
    expect(() => loadAdmissionSettings({ ADMISSION_MIN_IN_FLIGHT: '0' })).toThrow(/ADMISSION_MIN_IN_FLIGHT/);
  });
});
