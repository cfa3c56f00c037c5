import { FEATURES_V2, TreeEnsemble } from '@ml/anomaly-features';

// The highest version present is served: 2.0.0, with feature version 2.
const FEATURE_COUNT = FEATURES_V2.count;
const FEATURE_NAMES = FEATURES_V2.names;
const computeFeatures = FEATURES_V2.compute;
import { isModelLoadError, loadRunner } from '@ml/inference';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_DIR, tx } from '../testing/anomaly.testing';
import { AnomalyDetector, POPULATION_ONLY } from './anomaly.detector';
import { anomalyAdapter, resolveAnomalyModel } from './anomaly.model';

const BATCHING = { maxBatchSize: 32, maxQueueDelayMs: 0, maxQueueSize: 1024 };

describe('resolveAnomalyModel', () => {
  let dir: string;
  let version: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'anomaly-model-'));
    cpSync(join(MODEL_DIR, 'anomaly-detector'), join(dir, 'anomaly-detector'), { recursive: true });
    version = (await resolveAnomalyModel(MODEL_DIR)).version;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const manifestPath = () => join(dir, 'anomaly-detector', version, 'manifest.json');
  const editManifest = (edit: (m: Record<string, unknown>) => void) => {
    const m = JSON.parse(readFileSync(manifestPath(), 'utf8'));
    edit(m);
    writeFileSync(manifestPath(), JSON.stringify(m));
  };
  const failure = async () => {
    try {
      await resolveAnomalyModel(dir);
    } catch (e) {
      expect(isModelLoadError(e)).toBe(true);
      return (e as Error).message;
    }
    throw new Error('expected the model to be refused');
  };

  it('accepts the shipped model and exposes what serving needs', async () => {
    const files = await resolveAnomalyModel(dir);
    expect(files.name).toBe('anomaly-detector');
    expect(files.threshold).toBeGreaterThan(0);
    expect(files.threshold).toBeLessThan(1);
    expect(files.inputs).toEqual([{ name: 'features', datatype: 'FP32', shape: [-1, FEATURE_COUNT] }]);
    expect(files.outputs).toEqual([{ name: 'score', datatype: 'FP32', shape: [-1, 1] }]);
    expect(files.trees.featureNames).toEqual([...FEATURE_NAMES]);
  });

  it('refuses a tampered trees.json (sha256)', async () => {
    const path = join(dir, 'anomaly-detector', version, 'trees.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"base_score":', '"base_score": 1, "x":'));
    expect(await failure()).toMatch(/trees\.json sha256 .* does not match/);
  });

  it('refuses a model trained on another feature version or feature order', async () => {
    editManifest((m) => (m['feature_version'] = 'anomaly-features/0'));
    expect(await failure()).toMatch(/trained with features this build cannot compute: feature version "anomaly-features\/0"/);
    editManifest((m) => {
      m['feature_version'] = 'anomaly-features/2';
      m['feature_names'] = [...FEATURE_NAMES].reverse();
    });
    expect(await failure()).toMatch(/feature_names differ/);
  });

  it('refuses a manifest without trees_sha256, with a bad threshold or odd tensors', async () => {
    editManifest((m) => delete m['trees_sha256']);
    expect(await failure()).toMatch(/lacks "trees_sha256"/);
    editManifest((m) => (m['threshold'] = 1.5));
    expect(await failure()).toMatch(/threshold/);
    editManifest((m) => {
      m['threshold'] = 0.4;
      m['inputs'] = [{ name: 'features', dtype: 'int64', shape: ['N', FEATURE_COUNT] }];
    });
    expect(await failure()).toMatch(/must be float32/);
    editManifest((m) => (m['inputs'] = [{ name: 'features', dtype: 'float32', shape: ['N', 30] }]));
    expect(await failure()).toMatch(/must have shape \[N, 25\]/);
    editManifest((m) => (m['inputs'] = [{ dtype: 'float32', shape: ['N', 25] }]));
    expect(await failure()).toMatch(/has no name/);
    editManifest((m) => {
      m['inputs'] = [{ name: 'features', dtype: 'float32', shape: ['N', 25] }];
      m['files'] = { contributions: '../trees.json' };
    });
    expect(await failure()).toMatch(/must be a file name/);
  });

  it('refuses a trees.json that is missing or not an ensemble', async () => {
    const path = join(dir, 'anomaly-detector', version, 'trees.json');
    rmSync(path);
    expect(await failure()).toMatch(/cannot be read/);
    writeFileSync(path, '{"format":"something-else"}');
    const { createHash } = await import('node:crypto');
    editManifest((m) => (m['trees_sha256'] = createHash('sha256').update('{"format":"something-else"}').digest('hex')));
    expect(await failure()).toMatch(/is not a tree ensemble: format must be/);
  });
});

describe('anomalyAdapter', () => {
  it('stacks rows into [N, F] and reads one score per row', () => {
    const a = anomalyAdapter('features', 'score', [], FEATURE_COUNT);
    const rows = [new Float32Array(FEATURE_COUNT).fill(1), new Float32Array(FEATURE_COUNT).fill(2)];
    const feeds = a.encode(rows);
    expect(feeds['features'].dims).toEqual([2, FEATURE_COUNT]);
    expect(Array.from(feeds['features'].data as Float32Array).slice(FEATURE_COUNT - 1, FEATURE_COUNT + 1)).toEqual([1, 2]);
    expect(a.decode({ score: { data: new Float32Array([0.25, 0.5]), dims: [2, 1] } }, 2)).toEqual([0.25, 0.5]);
    expect(() => a.decode({ score: { data: new Float32Array([0.25]), dims: [1, 1] } }, 2)).toThrow(/1 scores for 2 rows/);
    expect(() => a.decode({}, 2)).toThrow(/no "score" output/);
  });
});

describe('AnomalyDetector on the shipped model', () => {
  let detector: AnomalyDetector;
  beforeAll(async () => {
    const files = await resolveAnomalyModel(MODEL_DIR);
    detector = new AnomalyDetector(files, await loadRunner(files.modelPath, 0), BATCHING);
    await detector.warmUp();
  });
  afterAll(() => detector.close());

  it('scores like trees.json and explains in plain sentences', async () => {
    const features = computeFeatures(undefined, tx({ transaction_id: 't', user_id: 'u', amount: 2000, channel: 'online', merchant_category: 'shopping' }));
    const [score] = await detector.scores([features.vector], 1000);
    expect(score).toBeCloseTo(detector.files.trees.predict(features.vector), 5);
    const p = detector.present(tx({ transaction_id: 't', user_id: 'u' }), features, undefined, score, false);
    expect(p.score).toBe(Math.round(score * 1e6) / 1e6);
    expect(p.is_anomaly).toBe(p.score >= p.threshold);
    expect(p.reasons).toContain(POPULATION_ONLY.newCustomer);
  });

  it('decides is_anomaly on the score it shows', () => {
    const features = computeFeatures(undefined, tx({ transaction_id: 't', user_id: 'u' }));
    const t = detector.threshold;
    const justBelow = detector.present(tx({ transaction_id: 't', user_id: 'u' }), features, undefined, t - 4e-7, true);
    expect(justBelow.score).toBe(t);
    expect(justBelow.is_anomaly).toBe(true);
    const below = detector.present(tx({ transaction_id: 't', user_id: 'u' }), features, undefined, t - 2e-6, true);
    expect(below.is_anomaly).toBe(false);
    expect(below.degraded).toBe(true);
  });

  it('counts failures by kind and refuses rows once closed', async () => {
    const events: string[] = [];
    const off = detector.onPrediction((e) => events.push(e.status));
    const files = await resolveAnomalyModel(MODEL_DIR);
    const other = new AnomalyDetector(files, await loadRunner(files.modelPath, 0), BATCHING);
    other.onPrediction((e) => events.push(`other:${e.status}`));
    await expect(other.scores([new Float32Array(FEATURE_COUNT)], 100)).rejects.toMatchObject({ code: 'NOT_READY' });
    await other.close();
    off();
    expect(events).toEqual(['other:rejected']);
  });

  it('refuses to become ready when model.onnx and trees.json are not the same model', async () => {
    const files = await resolveAnomalyModel(MODEL_DIR);
    const shifted = TreeEnsemble.fromJSON({ ...files.trees.toJSON(), base_score: files.trees.baseScore + 1 });
    const mismatched = new AnomalyDetector({ ...files, trees: shifted }, await loadRunner(files.modelPath, 0), BATCHING);
    const err = await mismatched.warmUp().catch((e: unknown) => e);
    expect(isModelLoadError(err)).toBe(true);
    expect((err as Error).message).toMatch(/disagree/);
    expect(mismatched.ready).toBe(false);
  });

  it('refuses an ONNX graph without the tensors the manifest names', async () => {
    const files = await resolveAnomalyModel(MODEL_DIR);
    const runner = await loadRunner(files.modelPath, 0);
    expect(() => new AnomalyDetector({ ...files, inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, FEATURE_COUNT] }] }, runner, BATCHING)).toThrow(
      /has no tensor "x"/,
    );
    await runner.close();
  });
});
