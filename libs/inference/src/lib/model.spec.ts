import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '../testing/tiny-model';
import { loadInferenceConfig, versionVariable } from './inference.config';
import { InferenceWorkerExitedError, ModelLoadError, isModelLoadError } from './inference.errors';
import { listVersions, resolveModel } from './model.repository';
import { InProcessRunner, WorkerRunner, loadRunner, sessionOptions, type Feeds, type OnnxRunner, type Outputs } from './onnx.runner';
import { ServedModel, type ModelAdapter } from './served-model';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'models-'));
  for (const v of ['1.2.0', '1.10.0', '1.9.3']) writeTinyModel(root, 'tiny', v);
  writeTinyModel(root, 'tampered', '1.0.0', { tamper: true });
  writeTinyModel(root, 'badmanifest', '1.0.0');
  writeFileSync(join(root, 'badmanifest', '1.0.0', 'manifest.json'), '{not json');
  writeTinyModel(root, 'wrongname', '1.0.0');
  writeFileSync(join(root, 'wrongname', '1.0.0', 'manifest.json'), JSON.stringify({ name: 'other', version: '1.0.0', sha256: 'x', inputs: [], outputs: [] }));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('model repository', () => {
  it('orders versions numerically, highest first', () => {
    expect(listVersions(root, 'tiny')).toEqual(['1.10.0', '1.9.3', '1.2.0']);
    expect(listVersions(root, 'absent')).toEqual([]);
  });

  it('serves the highest version unless one is pinned', async () => {
    expect((await resolveModel(root, 'tiny')).version).toBe('1.10.0');
    const pinned = await resolveModel(root, 'tiny', '1.2.0');
    expect(pinned.version).toBe('1.2.0');
    expect(pinned.modelPath).toBe(join(root, 'tiny', '1.2.0', 'model.onnx'));
    expect(pinned.manifest.labels).toEqual(['a', 'b', 'c']);
  });

  it.each([
    ['absent', undefined, /no versions of model "absent"/],
    ['tiny', '2.0.0', /has no version "2.0.0" \(present: 1.10.0, 1.9.3, 1.2.0\)/],
    ['tampered', undefined, /sha256 [0-9a-f]{64} does not match/],
    ['badmanifest', undefined, /manifest.json is missing or not JSON/],
    ['wrongname', undefined, /describes other@1.0.0, expected wrongname@1.0.0/],
  ])('refuses %s@%s with a clear message', async (name, version, message) => {
    const err = await resolveModel(root, name, version).catch((e) => e);
    expect(isModelLoadError(err)).toBe(true);
    expect(err.message).toMatch(message);
  });
});

describe('inference config', () => {
  it('derives the pin variable from the model name', () => {
    expect(versionVariable('intent-classifier')).toBe('MODEL_VERSION_INTENT_CLASSIFIER');
  });
  it('has defaults for a 2-core box and reads overrides', () => {
    const d = loadInferenceConfig('tiny', {});
    expect(d).toMatchObject({ pinnedVersion: undefined, workers: 1, intraOpThreads: 2, maxBatchSize: 32, maxQueueDelayMs: 0, maxQueueSize: 2048 });
    expect(loadInferenceConfig('tiny', { INFERENCE_INTRA_OP_THREADS: '1' }).intraOpThreads).toBe(1);
    expect(() => loadInferenceConfig('tiny', { INFERENCE_INTRA_OP_THREADS: '0' })).toThrow('INFERENCE_INTRA_OP_THREADS');
    expect(d.modelDir.endsWith('models')).toBe(true);
    const o = loadInferenceConfig('tiny', { MODEL_DIR: root, MODEL_VERSION_TINY: '1.2.0', INFERENCE_WORKERS: '0', INFERENCE_MAX_BATCH: '8' });
    expect(o).toMatchObject({ modelDir: root, pinnedVersion: '1.2.0', workers: 0, maxBatchSize: 8 });
  });
  it('takes a model app\'s own defaults, which the variables still override', () => {
    const own = { maxBatchSize: 256, workers: 2, intraOpThreads: 1 };
    expect(loadInferenceConfig('tiny', {}, own)).toMatchObject(own);
    expect(
      loadInferenceConfig('tiny', { INFERENCE_MAX_BATCH: '16', INFERENCE_WORKERS: '0', INFERENCE_INTRA_OP_THREADS: '3' }, own),
    ).toMatchObject({ maxBatchSize: 16, workers: 0, intraOpThreads: 3 });
  });
  it('names a bad pin', () => {
    expect(() => loadInferenceConfig('tiny', { MODEL_VERSION_TINY: 'latest' })).toThrow('Invalid configuration: MODEL_VERSION_TINY');
    expect(() => loadInferenceConfig('tiny', { INFERENCE_WORKERS: '-1' })).toThrow('INFERENCE_WORKERS');
  });
});

const rows = [
  [1, 2, 3],
  [0, 0, 0],
];
const softmax = (r: number[]) => {
  const e = r.map((x) => Math.exp(x));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

describe('session options', () => {
  it('run on one thread by default; with more, idle intra-op threads sleep instead of spinning', () => {
    expect(sessionOptions()).toEqual({
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      enableMemPattern: false,
    });
    expect(sessionOptions(2)).toMatchObject({ intraOpNumThreads: 2, extra: { session: { intra_op: { allow_spinning: '0' } } } });
  });
});

describe.each([
  ['in process', 0, 1],
  ['in process, two intra-op threads', 0, 2],
  ['two worker threads', 2, 1],
  ['two worker threads, two intra-op threads each', 2, 2],
])('onnx runner (%s)', (_label, workers, threads) => {
  let runner: OnnxRunner;
  beforeAll(async () => {
    runner = await loadRunner((await resolveModel(root, 'tiny')).modelPath, workers, threads);
  });
  afterAll(() => runner.close());

  it('runs the real model and returns its outputs', async () => {
    expect(runner).toBeInstanceOf(workers ? WorkerRunner : InProcessRunner);
    // A worker takes its next run while it is still busy with one: two in flight per worker.
    expect(runner.concurrency).toBe(workers ? 2 * workers : 1);
    expect(runner.inputNames).toEqual(['x']);
    expect(runner.outputNames).toEqual(['y']);
    const out = await runner.run({ x: { type: 'float32', data: Float32Array.from(rows.flat()), dims: [2, 3] } });
    expect(out['y'].dims).toEqual([2, 3]);
    const got = Array.from(out['y'].data as Float32Array);
    softmax(rows[0]).concat(softmax(rows[1])).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 6));
  });

  it('reports a failed run as an error, and keeps working', async () => {
    await expect(runner.run({ x: { type: 'float32', data: new Float32Array(4), dims: [2, 2] } })).rejects.toThrow();
    const ok = await runner.run({ x: { type: 'float32', data: new Float32Array(3), dims: [1, 3] } });
    expect(Array.from(ok['y'].data as Float32Array)).toEqual([1 / 3, 1 / 3, 1 / 3].map((v) => Math.fround(v)));
  });

  it('runs concurrent calls', async () => {
    const outs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => runner.run({ x: { type: 'float32', data: Float32Array.from([i, 0, 0]), dims: [1, 3] } })),
    );
    outs.forEach((o, i) => expect((o['y'].data as Float32Array)[0]).toBeCloseTo(softmax([i, 0, 0])[0], 6));
  });
});

describe('a worker that exits by itself', () => {
  const x = (v: number): Feeds => ({ x: { type: 'float32', data: Float32Array.from([v, 0, 0]), dims: [1, 3] } });
  const slotsOf = (r: OnnxRunner) => (r as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
  const first = (o: Outputs) => (o['y'].data as Float32Array)[0];

  it('fails its runs in flight with a retryable 503, answers 503 while none is alive, and is replaced', async () => {
    const runner = await loadRunner((await resolveModel(root, 'tiny')).modelPath, 1);
    try {
      const dying = slotsOf(runner)[0].worker;
      void dying.terminate(); // as a crash would: the runner did not ask for it
      const inFlight = runner.run(x(1));
      await expect(inFlight).rejects.toMatchObject({ code: 'NOT_READY', retryAfterSeconds: 1, name: 'InferenceWorkerExitedError' });
      await expect(runner.run(x(1))).rejects.toBeInstanceOf(InferenceWorkerExitedError);
      let out: Outputs | undefined;
      for (let i = 0; i < 200 && !out; i++) {
        out = await runner.run(x(2)).catch(() => undefined);
        if (!out) await new Promise((r) => setTimeout(r, 25));
      }
      expect(out && first(out)).toBeCloseTo(softmax([2, 0, 0])[0], 6);
      expect(slotsOf(runner)[0].worker).not.toBe(dying);
    } finally {
      await runner.close();
    }
  });

  it('lets the other workers take every run meanwhile', async () => {
    const runner = await loadRunner((await resolveModel(root, 'tiny')).modelPath, 2);
    try {
      await slotsOf(runner)[0].worker.terminate();
      const outs = await Promise.all(Array.from({ length: 6 }, (_, i) => runner.run(x(i))));
      outs.forEach((o, i) => expect(first(o)).toBeCloseTo(softmax([i, 0, 0])[0], 6));
    } finally {
      await runner.close();
    }
  });
});

describe('loading failures', () => {
  it('turns an unreadable model into a ModelLoadError, in process and in workers', async () => {
    const junk = join(root, 'junk.onnx');
    writeFileSync(junk, 'not a model');
    await expect(loadRunner(junk, 0)).rejects.toBeInstanceOf(ModelLoadError);
    await expect(loadRunner(junk, 1)).rejects.toBeInstanceOf(ModelLoadError);
  });
});

describe('ServedModel', () => {
  const adapter: ModelAdapter<number[], number[]> = {
    encode: (items) => ({ x: { type: 'float32', data: Float32Array.from(items.flat()), dims: [items.length, 3] } }),
    decode: (out, n) => Array.from({ length: n }, (_, i) => Array.from((out['y'].data as Float32Array).subarray(i * 3, i * 3 + 3))),
    warmup: [[0, 0, 0], [1, 1, 1]],
  };

  it('is not ready before warm-up, batches concurrent predictions after it, and closes', async () => {
    const files = await resolveModel(root, 'tiny');
    const served = new ServedModel(files, await loadRunner(files.modelPath, 1), adapter, { maxBatchSize: 16, maxQueueDelayMs: 0, maxQueueSize: 100 });
    expect(served.name).toBe('tiny');
    expect(served.version).toBe('1.10.0');
    expect(served.ready).toBe(false);
    await expect(served.predict([[1, 2, 3]])).rejects.toMatchObject({ code: 'NOT_READY' });
    await served.warmUp();
    expect(served.ready).toBe(true);
    const sizes: number[] = [];
    served.onBatch((b) => sizes.push(b.size));
    served.onReject(() => undefined);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => served.predict([[i, 0, 0]], 5000)));
    results.forEach(([r], i) => expect(r[0]).toBeCloseTo(softmax([i, 0, 0])[0], 5));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    await served.close();
    expect(served.ready).toBe(false);
  });
});
