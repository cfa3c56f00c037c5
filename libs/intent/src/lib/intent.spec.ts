import { DynamicModule, Module } from '@nestjs/common';
import { loadServiceConfig } from '@ml/config';
import { loadInferenceConfig } from '@ml/inference';
import { CoreModule, startService, type RunningService } from '@ml/server';
import { join } from 'node:path';
import { request } from 'undici';
import { argmax, rejectClassesOf, topK } from './intent.classifier';
import { INTENT_INFERENCE_DEFAULTS, INTENT_MODEL_NAME } from './intent.constants';
import { IntentModule } from './intent.module';
import { IntentService } from './intent.service';

const MODEL_DIR = join(__dirname, '..', '..', '..', '..', 'models');

describe('topK and argmax', () => {
  it('pick the largest values, largest first, lower index on ties', () => {
    const row = [0.1, 0.4, 0.05, 0.4, 0.05];
    expect(argmax(row)).toBe(1);
    expect(topK(row, 3)).toEqual([1, 3, 0]);
    expect(topK(row, 10)).toEqual([1, 3, 0, 2, 4]);
    expect(topK([3, 2, 1], 1)).toEqual([0]);
    expect(topK([1, 2, 3, 4, 5, 6], 2)).toEqual([5, 4]);
  });

  it('topK skips excluded (reject) classes', () => {
    const row = [0.1, 0.6, 0.05, 0.2, 0.05];
    expect(topK(row, 2, new Set([1]))).toEqual([3, 0]);
    expect(topK(row, 10, new Set([1, 3]))).toEqual([0, 2, 4]);
  });
});

describe('rejectClassesOf (manifest reject_labels)', () => {
  const labels = ['a', 'b', 'out_of_scope'];
  it('maps reject labels to their class indices; absent means none', () => {
    expect([...rejectClassesOf(['out_of_scope'], labels, 'd')]).toEqual([2]);
    expect(rejectClassesOf(undefined, labels, 'd').size).toBe(0);
  });
  it('fails the boot on a malformed list', () => {
    expect(() => rejectClassesOf('out_of_scope', labels, 'd')).toThrow(/reject_labels must be a list/);
    expect(() => rejectClassesOf(['nope'], labels, 'd')).toThrow(/reject_labels must be a list/);
    expect(() => rejectClassesOf([1], labels, 'd')).toThrow(/reject_labels must be a list/);
    expect(() => rejectClassesOf(['a', 'b', 'out_of_scope'], labels, 'd')).toThrow(/every label/);
  });
});

describe('IntentModule with the shipped model on a real app', () => {
  let svc: RunningService;
  beforeAll(async () => {
    const env = { LOG_LEVEL: 'silent', PORT: '0', MODEL_DIR, INFERENCE_WORKERS: '1' };
    const config = loadServiceConfig(0, env);
    const mod: DynamicModule = {
      module: class IntentTestModule {},
      imports: [CoreModule.forRoot({ service: 'intent-test', config }), IntentModule.forRoot({ inference: loadInferenceConfig(INTENT_MODEL_NAME, env, INTENT_INFERENCE_DEFAULTS), requestTimeoutMs: 2000 })],
    };
    Module({})(mod.module);
    svc = await startService({ name: 'intent-test', module: mod, config, isBatchRoute: (p) => p.endsWith('/batch') || p.endsWith('/infer') });
  });
  afterAll(() => svc.shutdown());

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const r = await request(svc.url + path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
    return { status: r.statusCode, body: (await r.body.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('answers 503 NOT_READY until the model is warm, then classifies', async () => {
    const service = svc.app.get(IntentService);
    if (!service.ready) {
      const early = await post('/predict/intent', { query: 'hello' });
      expect(early.status).toBe(503);
    }
    await service.whenLoaded();
    expect(service.ready).toBe(true);
    const res = await post('/predict/intent', { query: 'I still have not received my new card' });
    expect(res.status).toBe(200);
    expect(res.body.intent).toBe('card_arrival');
    expect(res.body.model).toEqual({ name: 'intent-classifier', version: service.files.version });
  });

  it('classifies a mixed batch, each in its place', async () => {
    const res = await post('/predict/intent/batch', { queries: ['I want to close my account', 'my card got stuck in the cash machine', 'what currencies can I hold?'] });
    expect(res.body.predictions.map((p: { intent: string }) => p.intent)).toEqual(['terminate_account', 'card_swallowed', 'fiat_currency_support']);
  });

  it('answers nonsense as unknown below the threshold', async () => {
    expect((await post('/predict/intent', { query: 'qwrtp zxcvb' })).body.intent).toBe('unknown');
  });

  it('answers out-of-scope questions unknown and never offers a reject class as a candidate', async () => {
    const service = svc.app.get(IntentService);
    const reject = (service.files.manifest['reject_labels'] as string[] | undefined) ?? [];
    const res = await post('/predict/intent/batch', {
      queries: ['what will the weather be like in Lisbon on Saturday', 'can you recommend a good pasta recipe', 'hola, ¿cómo estás?'],
    });
    expect(res.status).toBe(200);
    for (const p of res.body.predictions as Array<{ intent: string; top: Array<{ intent: string }> }>) {
      expect(p.intent).toBe('unknown');
      expect(p.top).toHaveLength(5);
      for (const c of p.top) expect(reject).not.toContain(c.intent);
    }
  });

  it('rejects invalid input with 422 and counts it', async () => {
    expect((await post('/predict/intent', { query: '' })).status).toBe(422);
    expect((await post('/predict/intent/batch', { queries: [] })).status).toBe(422);
    const metrics = await (await request(`${svc.url}/metrics`)).body.text();
    expect(metrics).toMatch(/ml_invalid_input_total\{[^}]*model="intent-classifier"[^}]*\} 2/);
    expect(metrics).toMatch(/ml_prediction_latency_seconds_count\{[^}]*model="intent-classifier"[^}]*\} [1-9]/);
  });

  it('answers 504 when the budget is already too small to queue', async () => {
    const many = await Promise.all(Array.from({ length: 64 }, () => post('/predict/intent/batch', { queries: Array(256).fill('where is my card') }, { 'x-request-timeout-ms': '1' })));
    expect(many.some((r) => r.status === 504)).toBe(true);
    expect(many.every((r) => r.status === 200 || r.status === 504)).toBe(true);
  });

  it('serves the protocol with FP32 scores and the classification extension', async () => {
    const req = { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['how do I change my pin'] }] };
    const fp = await post('/v2/models/intent-classifier/infer', req);
    const labels = svc.app.get(IntentService).files.manifest.labels ?? [];
    expect(labels.length).toBeGreaterThanOrEqual(77);
    expect(fp.body.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [1, labels.length] });
    const cls = await post('/v2/models/intent-classifier/infer', { ...req, outputs: [{ name: 'probabilities', parameters: { classification: 3 } }] });
    expect(cls.body.outputs[0].data).toHaveLength(3);
    expect(cls.body.outputs[0].data[0]).toMatch(/:change_pin$/);
    const bad = await post('/v2/models/intent-classifier/infer', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [''] }], outputs: [{ name: 'nope' }] });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toContain('inputs.text.data[0]');
    expect(bad.body.error).toContain('unknown output "nope"');
    const missing = await post('/v2/models/intent-classifier/infer', { inputs: [{ name: 'other', shape: [1], datatype: 'BYTES', data: ['x'] }] });
    expect(missing.body.error).toContain('must contain an input named "text"');
  });
});
