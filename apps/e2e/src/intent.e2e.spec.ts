import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { http } from './support/http';
import { ROOT, startApp, waitForLine, type RunningApp } from './support/processes';

/** The served (highest) version's manifest: the output width is its label count, reject classes included. */
function servedManifest(): { version: string; labels: string[] } {
  const dir = join(ROOT, 'models', 'intent-classifier');
  const [version] = readdirSync(dir)
    .filter((v) => /^\d+\.\d+\.\d+$/.test(v))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  return JSON.parse(readFileSync(join(dir, version, 'manifest.json'), 'utf8'));
}
const LABELS = servedManifest().labels.length;

describe('intent-classifier: a real model served over HTTP', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp('intent-classifier', { SHUTDOWN_DELAY_MS: '300' });
    for (let i = 0; i < 200; i++) {
      if ((await http(`${app.url}/health/ready`)).status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('is ready once the model is loaded and warmed', async () => {
    const ready = await http(`${app.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json.details.model).toEqual({ status: 'up' });
    expect(await waitForLine(app, (l) => l.includes('loaded and warmed'))).toBeDefined();
  });

  it.each([
    ["my new card still hasn't arrived", 'card_arrival'],
    ['I forgot my passcode and cannot log in', 'passcode_forgotten'],
    ['the atm kept my card', 'card_swallowed'],
    ['how do I close my account?', 'terminate_account'],
  ])('classifies %p as %s', async (query, intent) => {
    const res = await http(`${app.url}/predict/intent`, { body: { query } });
    expect(res.status).toBe(200);
    expect(res.json.intent).toBe(intent);
    expect(res.json.top).toHaveLength(5);
    expect(res.json.top[0].intent).toBe(intent);
    expect(res.json.confidence).toBe(res.json.top[0].confidence);
    expect(res.json.model).toEqual({ name: 'intent-classifier', version: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
    expect(res.json.cached).toBeUndefined();
  });

  it('answers "unknown" with the top candidates when confidence is below the threshold', async () => {
    const res = await http(`${app.url}/predict/intent`, { body: { query: 'zzqx vvkw' } });
    expect(res.status).toBe(200);
    expect(res.json.intent).toBe('unknown');
    expect(res.json.top.length).toBe(5);
  });

  it('classifies a batch in order', async () => {
    const res = await http(`${app.url}/predict/intent/batch`, { body: { queries: ['I lost my card', 'what is your exchange rate', 'I lost my card'] } });
    expect(res.status).toBe(200);
    expect(res.json.predictions).toHaveLength(3);
    expect(res.json.predictions[0]).toEqual(res.json.predictions[2]);
  });

  it.each([
    [{ query: '' }, 'query'],
    [{ query: '   ' }, 'query'],
    [{ query: 'x'.repeat(1001) }, 'query'],
    [{ query: 5 }, 'query'],
    [{ query: 'hi', extra: true }, 'extra'],
    [{}, 'query'],
  ])('rejects %j with 422 naming %s', async (body, field) => {
    const res = await http(`${app.url}/predict/intent`, { body });
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(res.json.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('rejects a batch with a bad item whole, naming the index', async () => {
    const res = await http(`${app.url}/predict/intent/batch`, { body: { queries: ['ok', '', 'fine', 7] } });
    expect(res.status).toBe(422);
    expect(res.json.errors).toEqual([
      { field: 'queries[1]', message: 'must not be empty or only whitespace' },
      { field: 'queries[3]', message: 'must be a string' },
    ]);
    const big = await http(`${app.url}/predict/intent/batch`, { body: { queries: Array(257).fill('q') } });
    expect(big.status).toBe(422);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const res = await http(`${app.url}/predict/intent`, { raw: 'query=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(415);
  });

  it('counts predictions, invalid input and batch sizes in /metrics', async () => {
    const m = (await http(`${app.url}/metrics`)).text;
    expect(m).toMatch(/ml_prediction_total\{[^}]*model="intent-classifier"[^}]*status="success"[^}]*\} [1-9]/);
    expect(m).toMatch(/ml_invalid_input_total\{[^}]*model="intent-classifier"[^}]*\} [1-9]/);
    expect(m).toMatch(/ml_inference_batch_size_count\{[^}]*model="intent-classifier"[^}]*\} [1-9]/);
    expect(m).toMatch(/ml_prediction_confidence_bucket/);
  });

  describe('Open Inference Protocol', () => {
    it('describes the server and the model', async () => {
      expect((await http(`${app.url}/v2/health/ready`)).json).toEqual({ ready: true });
      const meta = await http(`${app.url}/v2/models/intent-classifier`);
      expect(meta.json).toMatchObject({ name: 'intent-classifier', platform: 'onnxruntime_onnx', inputs: [{ name: 'text', datatype: 'BYTES' }] });
      expect((await http(`${app.url}/v2/models/intent-classifier/ready`)).json).toEqual({ name: 'intent-classifier', ready: true });
    });

    it('infers probabilities (FP32) and the classification extension', async () => {
      const req = { id: 'r1', inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['I lost my card', 'how do I change my PIN'] }] };
      const probs = await http(`${app.url}/v2/models/intent-classifier/infer`, { body: req });
      expect(probs.status).toBe(200);
      expect(probs.json.id).toBe('r1');
      expect(probs.json.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [2, LABELS] });
      const sum = (probs.json.outputs[0].data as number[]).slice(0, LABELS).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 4);
      const cls = await http(`${app.url}/v2/models/intent-classifier/infer`, {
        body: { ...req, outputs: [{ name: 'probabilities', parameters: { classification: 2 } }] },
      });
      expect(cls.json.outputs[0].shape).toEqual([2, 2]);
      expect(cls.json.outputs[0].data[0]).toMatch(/^0\.\d{6}:\d+:lost_or_stolen_card$/);
      expect(cls.json.outputs[0].data[2]).toMatch(/:change_pin$/);
    });

    it('answers protocol errors as {"error"}', async () => {
      const bad = await http(`${app.url}/v2/models/intent-classifier/infer`, { body: { inputs: [{ name: 'text', shape: [1], datatype: 'FP32', data: [1] }] } });
      expect(bad.status).toBe(422);
      expect(bad.json).toEqual({ error: expect.stringContaining('must be BYTES') });
      expect((await http(`${app.url}/v2/models/other`)).status).toBe(404);
      expect((await http(`${app.url}/v2/models/intent-classifier/versions/0.0.1`)).status).toBe(404);
    });
  });
});

describe('graceful shutdown of a real process', () => {
  it('on SIGTERM fails readiness, finishes every request in flight, then exits 0', async () => {
    const app = await startApp('intent-classifier', { SHUTDOWN_DELAY_MS: '400', SHUTDOWN_DRAIN_MS: '5000' });
    for (let i = 0; i < 200 && (await http(`${app.url}/health/ready`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    // Requests in flight: headers sent, bodies still arriving.
    const body = JSON.stringify({ query: 'where is my card? it has been two weeks' });
    const sockets = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const s = connect(app.port, '127.0.0.1');
        await new Promise<void>((r) => s.once('connect', () => r()));
        let response = '';
        s.on('data', (d) => (response += d.toString()));
        s.write(`POST /predict/intent HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
        return { s, response: () => response };
      }),
    );
    // Plus a steady stream of ordinary requests while the signal arrives.
    const flood = Promise.all(Array.from({ length: 20 }, () => http(`${app.url}/predict/intent`, { body: { query: 'I lost my card' } })));
    await new Promise((r) => setTimeout(r, 50));
    app.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    expect((await http(`${app.url}/health/ready`)).status).toBe(503);
    for (const { s } of sockets) s.write(body.slice(10));
    const results = await flood;
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(await app.exited).toBe(0);
    for (const { response } of sockets) expect(response()).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*"intent":"[a-z_]+"/);
  });
});
