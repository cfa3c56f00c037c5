import {
  FEATURE_NAMES,
  FEATURE_VERSION,
  TreeEnsemble,
  explain,
  type FeatureVector,
  type TransactionInput,
  type UserProfile,
} from '@ml/anomaly-features';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dataset, replay } from './dataset';
import { rocAuc } from './metrics';
import { scoreWithOnnxRuntime } from './onnx.runtime';
import { DEFAULT_PIPELINE, sha256 } from './pipeline';
import { SHIFTED_CONFIG, TRAINING_CONFIG } from './sim.config';

const DIR = join(
  __dirname,
  '..',
  '..',
  '..',
  '..',
  'models',
  'anomaly-detector',
  '1.0.0',
);
const onnxBytes = readFileSync(join(DIR, 'model.onnx'));
const treesText = readFileSync(join(DIR, 'trees.json'), 'utf8');
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));
const model = TreeEnsemble.fromJSON(JSON.parse(treesText));

interface Scored {
  data: Dataset;
  examples: Array<{
    tx: TransactionInput;
    profile: UserProfile | undefined;
    features: FeatureVector;
    fraud: boolean;
  }>;
}

/** The held-out period (after training and validation days) for the first customers of a configuration. */
function heldOut(
  cfg: typeof TRAINING_CONFIG,
  customers: number,
  fromDay: number,
): Scored {
  const data = new Dataset();
  const examples: Scored['examples'] = [];
  replay(
    cfg,
    ({ t, day, vector, profile }) => {
      if (day < fromDay) return;
      data.push(vector, t);
      if (t.fraud || examples.length < 50)
        examples.push({
          tx: t.tx,
          profile,
          features: { vector: vector.slice(), names: FEATURE_NAMES },
          fraud: t.fraud,
        });
    },
    customers,
  );
  return { data, examples };
}

// Replays of a few hundred simulated customers: seconds on an idle machine, more on a busy CI runner.
const SLOW_MS = 90_000;

describe('shipped anomaly-detector model', () => {
  let held: Scored;
  beforeAll(() => {
    held = heldOut(
      TRAINING_CONFIG,
      200,
      DEFAULT_PIPELINE.trainDays + DEFAULT_PIPELINE.validDays,
    );
  }, SLOW_MS);

  it('matches its manifest', () => {
    expect(manifest.name).toBe('anomaly-detector');
    expect(manifest.version).toBe('1.0.0');
    expect(manifest.sha256).toBe(sha256(onnxBytes));
    expect(manifest.trees_sha256).toBe(sha256(treesText));
    expect(manifest.feature_version).toBe(FEATURE_VERSION);
    expect(manifest.feature_names).toEqual([...FEATURE_NAMES]);
    expect(manifest.inputs[0]).toMatchObject({
      name: 'features',
      dtype: 'float32',
      shape: ['N', FEATURE_NAMES.length],
    });
    expect(manifest.outputs[0]).toMatchObject({
      name: 'score',
      dtype: 'float32',
      shape: ['N', 1],
    });
    expect(manifest.threshold).toBeGreaterThan(0);
    expect(manifest.threshold).toBeLessThan(1);
    expect(model.featureVersion).toBe(FEATURE_VERSION);
    expect(model.featureNames).toEqual([...FEATURE_NAMES]);
  });

  it(
    'scores the same in onnxruntime as the TS ensemble behind the contributions',
    async () => {
      const d = held.data;
      const onnx = await scoreWithOnnxRuntime(
        onnxBytes,
        d.x,
        d.length,
        d.featureCount,
      );
      let max = 0;
      for (let i = 0; i < d.length; i++)
        max = Math.max(max, Math.abs(onnx[i] - model.predict(d.row(i))));
      expect(max).toBeLessThan(1e-5);
      for (let i = 0; i < d.length; i += 997) {
        const c = model.contributions(d.row(i));
        const sum = c.bias + c.values.reduce((a, b) => a + b, 0);
        expect(1 / (1 + Math.exp(-sum))).toBeCloseTo(onnx[i], 5);
      }
    },
    SLOW_MS,
  );

  it('ranks held-out fraud above legitimate spend (quality floor)', () => {
    const d = held.data;
    expect(d.positives()).toBeGreaterThan(20);
    const scores = Array.from({ length: d.length }, (_, i) =>
      model.predict(d.row(i)),
    );
    expect(rocAuc(scores, d.y.subarray(0, d.length))).toBeGreaterThan(0.95);
  });

  it(
    'keeps ranking fraud on the population it never saw',
    () => {
      const shifted = heldOut(SHIFTED_CONFIG, 120, 0).data;
      expect(shifted.positives()).toBeGreaterThan(20);
      const scores = Array.from({ length: shifted.length }, (_, i) =>
        model.predict(shifted.row(i)),
      );
      expect(
        rocAuc(scores, shifted.y.subarray(0, shifted.length)),
      ).toBeGreaterThan(0.9);
    },
    SLOW_MS,
  );

  it('explains flagged fraud with reasons that push the score up', () => {
    const flagged = held.examples.filter(
      (e) => e.fraud && model.predict(e.features.vector) >= manifest.threshold,
    );
    expect(flagged.length).toBeGreaterThan(5);
    for (const e of flagged) {
      const reasons = explain(
        model.contributions(e.features.vector).values,
        e.features,
        e.tx,
        e.profile,
      );
      expect(reasons.length).toBeGreaterThan(0);
      expect(reasons.every((r) => typeof r === 'string' && r.length > 10)).toBe(
        true,
      );
    }
  });
});
