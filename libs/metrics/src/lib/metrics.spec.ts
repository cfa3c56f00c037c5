import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { markReceived } from '@ml/contracts';
import type { IncomingMessage } from 'node:http';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { METRICS_REGISTRY } from './metrics.constants';
import { MetricsModule } from './metrics.module';
import { PredictionMetrics } from './prediction.metrics';

@Controller('items')
class ItemsController {
  @Get(':id')
  one() {
    return { ok: true };
  }
}

function appModule(service: string): DynamicModule {
  @Module({ imports: [MetricsModule.forRoot({ service })], controllers: [ItemsController] })
  class AppModule {}
  return { module: AppModule };
}

async function start(service: string) {
  const app = await NestFactory.create<NestFastifyApplication>(appModule(service), new FastifyAdapter(), { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: await app.getUrl() };
}

const text = async (url: string) => {
  const r = await request(url);
  return { status: r.statusCode, type: r.headers['content-type'], body: await r.body.text() };
};

describe('MetricsModule', () => {
  it('gives each app its own registry: two apps in one process never share series', async () => {
    const a = await start('svc-a');
    const b = await start('svc-b');
    try {
      a.app.get(PredictionMetrics).total.inc({ model: 'm', status: 'success' }, 3);
      expect(a.app.get(METRICS_REGISTRY)).toBeInstanceOf(Registry);
      expect(a.app.get(METRICS_REGISTRY)).not.toBe(b.app.get(METRICS_REGISTRY));
      await text(`${a.base}/items/42`);
      await text(`${a.base}/items/43`);
      await text(`${a.base}/nothing-here`);
      const ma = await text(`${a.base}/metrics`);
      const mb = await text(`${b.base}/metrics`);
      expect(ma.status).toBe(200);
      expect(ma.type).toContain('text/plain');
      expect(ma.body).toMatch(/ml_prediction_total\{[^}]*model="m",status="success"[^}]*\} 3/);
      // Route templates, not raw paths, so ids do not explode the series count.
      expect(ma.body).toContain('http_request_duration_seconds_count{service="svc-a",method="GET",route="/items/:id",status_code="200"} 2');
      expect(ma.body).toMatch(/route="unmatched",status_code="404"\} 1/);
      expect(ma.body).toContain('nodejs_eventloop_lag_seconds{service="svc-a"}');
      expect(mb.body).not.toContain('svc-a');
      expect(mb.body).not.toContain('model="m"');
    } finally {
      await a.app.close();
      await b.app.close();
    }
  });

  it('defines every metric of the contract', async () => {
    const registry = new Registry();
    const p = new PredictionMetrics(registry);
    p.latency.observe({ model: 'm' }, 0.001);
    p.confidence.observe({ model: 'm' }, 0.9);
    p.invalidInput.inc({ model: 'm', error: 'validation' });
    p.queueWait.observe({ model: 'm' }, 0.0001);
    p.batchSize.observe({ model: 'm' }, 8);
    p.runDuration.observe({ model: 'm' }, 0.0005);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual([
      'ml_inference_batch_size',
      'ml_inference_queue_wait_seconds',
      'ml_inference_run_seconds',
      'ml_invalid_input_total',
      'ml_prediction_confidence',
      'ml_prediction_latency_seconds',
      'ml_prediction_total',
    ]);
  });
});

describe('http_request_duration_seconds', () => {
  it('counts from when the server first saw the request, not from Fastify routing', async () => {
    const app = await NestFactory.create<NestFastifyApplication>(appModule('svc-clock'), new FastifyAdapter(), { logger: false });
    // As libs/server does, stamped by the first request listener: here as if the request had
    // waited 2 s before Fastify got to it.
    app.getHttpServer().prependListener('request', (req: IncomingMessage) => markReceived(req, performance.now() - 2000));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = await app.getUrl();
      await text(`${base}/items/1`);
      const m = await text(`${base}/metrics`);
      const sum = /http_request_duration_seconds_sum\{service="svc-clock",method="GET",route="\/items\/:id",status_code="200"\} ([\d.e-]+)/.exec(m.body);
      expect(Number(sum?.[1])).toBeGreaterThanOrEqual(2);
    } finally {
      await app.close();
    }
  });
});

describe('PredictionMetrics', () => {
  const valueOf = async (registry: Registry, name: string, labels: Record<string, string> = {}) => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    const sample = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l));
    return sample?.value;
  };

  it('counts every outcome, and latency and confidence for successes only', async () => {
    const registry = new Registry();
    const m = new PredictionMetrics(registry);
    m.recordPrediction({ model: 'x', status: 'success', latencySeconds: 0.002, confidence: 0.9 });
    m.recordPrediction({ model: 'x', status: 'success', latencySeconds: 0.004 });
    m.recordPrediction({ model: 'x', status: 'timeout', latencySeconds: 1, confidence: 0.1 });
    expect(await valueOf(registry, 'ml_prediction_total', { model: 'x', status: 'success' })).toBe(2);
    expect(await valueOf(registry, 'ml_prediction_total', { model: 'x', status: 'timeout' })).toBe(1);
    expect(await valueOf(registry, 'ml_prediction_latency_seconds', { model: 'x', le: '+Inf' })).toBe(2);
    expect(await valueOf(registry, 'ml_prediction_confidence', { model: 'x', le: '+Inf' })).toBe(1);
  });

  it('records a run: its size, its duration in seconds and one queue wait per item', async () => {
    const registry = new Registry();
    const m = new PredictionMetrics(registry);
    m.recordBatch({ model: 'x', size: 3, runMs: 4, queueWaitMs: [0, 0.5, 2] });
    expect(await valueOf(registry, 'ml_inference_batch_size', { model: 'x', le: '4' })).toBe(1);
    expect(await valueOf(registry, 'ml_inference_run_seconds', { model: 'x', le: '0.005' })).toBe(1);
    expect(await valueOf(registry, 'ml_inference_run_seconds', { model: 'x', le: '0.0025' })).toBe(0);
    expect(await valueOf(registry, 'ml_inference_queue_wait_seconds', { model: 'x', le: '+Inf' })).toBe(3);
    expect(await valueOf(registry, 'ml_inference_queue_wait_seconds', { model: 'x', le: '0.0005' })).toBe(2);
  });
});
