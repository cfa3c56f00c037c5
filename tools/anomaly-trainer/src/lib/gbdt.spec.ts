import { TreeEnsemble } from '@ml/anomaly-features';
import { Dataset } from './dataset';
import {
  DEFAULT_PARAMS,
  featureCuts,
  trainGbdt,
  type GbdtParams,
} from './gbdt';
import { rocAuc } from './metrics';
import { toOnnx } from './onnx.export';
import { scoreWithOnnxRuntime } from './onnx.runtime';
import type { SimTransaction } from './simulator';
import { Rng } from './sim.random';

const F = 4;
const NAMES = ['a', 'b', 'c', 'noise'];
const legit = {
  fraud: false,
  scenario: undefined,
} as unknown as SimTransaction;
const fraud = {
  fraud: true,
  scenario: 'card_testing',
} as unknown as SimTransaction;

/** Fraud when (a > 0.7 and b < 0.3) or c is 1: an interaction a linear model cannot learn. */
function synthetic(n: number, seed: number): Dataset {
  const d = new Dataset(F);
  const r = new Rng(seed);
  for (let i = 0; i < n; i++) {
    const v = Float32Array.of(
      r.next(),
      r.next(),
      r.chance(0.03) ? 1 : 0,
      r.normal(),
    );
    const y = (v[0] > 0.7 && v[1] < 0.3) || v[2] === 1;
    const flipped = r.chance(0.02) ? !y : y;
    d.push(v, flipped ? fraud : legit);
  }
  return d;
}

const PARAMS: GbdtParams = {
  ...DEFAULT_PARAMS,
  maxTrees: 40,
  minTrees: 10,
  minChildRows: 10,
};
const META = { featureNames: NAMES, featureVersion: 'test/1' };

describe('trainGbdt', () => {
  const train = synthetic(6000, 1);
  const valid = synthetic(3000, 2);
  const result = trainGbdt(train, META, PARAMS, valid);
  const model = TreeEnsemble.fromJSON(result.model);

  it('learns an interaction well above chance on unseen rows', () => {
    const test = synthetic(3000, 3);
    const scores = Array.from({ length: test.length }, (_, i) =>
      model.predict(test.row(i)),
    );
    expect(rocAuc(scores, test.y.subarray(0, test.length))).toBeGreaterThan(
      0.95,
    );
    expect(result.trainLoss[result.trainLoss.length - 1]).toBeLessThan(
      result.trainLoss[0],
    );
    expect(result.bestTrees).toBeGreaterThanOrEqual(PARAMS.minTrees);
    expect(result.model.trees).toHaveLength(result.bestTrees);
  });

  it('is deterministic', () => {
    expect(JSON.stringify(trainGbdt(train, META, PARAMS, valid).model)).toBe(
      JSON.stringify(result.model),
    );
  });

  it('splits on observed float32 values and keeps children after parents', () => {
    const used = new Set<number>();
    for (const t of result.model.trees) {
      t.feature.forEach((f, k) => {
        if (f === -1) return;
        used.add(f);
        expect(Math.fround(t.threshold[k])).toBe(t.threshold[k]);
        expect(t.left[k]).toBeGreaterThan(k);
        expect(t.right[k]).toBeGreaterThan(k);
      });
    }
    expect(used.has(0) && used.has(1) && used.has(2)).toBe(true);
  });

  it('exports an ONNX graph that onnxruntime scores like the TS ensemble', async () => {
    const test = synthetic(2000, 4);
    const bytes = toOnnx(result.model, {
      modelVersion: '0.0.1',
      producerVersion: 'test',
      docString: 'test',
    });
    expect(
      Buffer.from(
        toOnnx(result.model, {
          modelVersion: '0.0.1',
          producerVersion: 'test',
          docString: 'test',
        }),
      ),
    ).toEqual(Buffer.from(bytes));
    const onnx = await scoreWithOnnxRuntime(bytes, test.x, test.length, F);
    let max = 0;
    for (let i = 0; i < test.length; i++)
      max = Math.max(max, Math.abs(onnx[i] - model.predict(test.row(i))));
    expect(max).toBeLessThan(1e-5);
  });

  it('uses every distinct value as a cut when there are few', () => {
    const x = Float32Array.of(3, 1, 2, 1, 3, 2);
    expect(Array.from(featureCuts(x, 6, 1, 0, 64))).toEqual([1, 2]);
    const many = Float32Array.from({ length: 1000 }, (_, i) => i);
    const cuts = featureCuts(many, 1000, 1, 0, 8);
    expect(cuts.length).toBe(7);
    expect(Array.from(cuts)).toEqual([125, 250, 375, 500, 625, 750, 875]);
  });
});

describe('monotone constraints', () => {
  /** Fraud likelier at both ends of `a` (a U shape) and when b is high. */
  function uShaped(n: number, seed: number): Dataset {
    const d = new Dataset(F);
    const r = new Rng(seed);
    for (let i = 0; i < n; i++) {
      const v = Float32Array.of(r.next(), r.next(), r.next(), r.normal());
      const p = 0.02 + 0.5 * (v[0] < 0.15 ? 1 : 0) + 0.4 * (v[0] > 0.85 ? 1 : 0) + 0.3 * v[1];
      d.push(v, r.chance(p) ? fraud : legit);
    }
    return d;
  }
  const params: GbdtParams = { ...DEFAULT_PARAMS, maxTrees: 40, minTrees: 40, maxDepth: 4 };
  const grid = (model: TreeEnsemble, f: number, others: Float32Array) =>
    Array.from({ length: 101 }, (_, k) => {
      const v = others.slice();
      v[f] = k / 100;
      return model.predict(v);
    });

  it('without constraints the ensemble follows the U shape (falls, then rises)', () => {
    const model = TreeEnsemble.fromJSON(trainGbdt(uShaped(20_000, 3), { featureNames: NAMES, featureVersion: 't' }, params).model);
    const s = grid(model, 0, Float32Array.of(0, 0.5, 0.5, 0));
    expect(s[0]).toBeGreaterThan(s[50] + 0.05);
    expect(s[100]).toBeGreaterThan(s[50] + 0.05);
  });

  it('a +1 constraint makes the score non-decreasing in that feature everywhere, -1 non-increasing', () => {
    const data = uShaped(20_000, 3);
    const up = TreeEnsemble.fromJSON(trainGbdt(data, { featureNames: NAMES, featureVersion: 't' }, { ...params, monotone: [1, 0, 0, 0] }).model);
    const down = TreeEnsemble.fromJSON(trainGbdt(data, { featureNames: NAMES, featureVersion: 't' }, { ...params, monotone: [-1, 1, 0, 0] }).model);
    const r = new Rng(9);
    for (let trial = 0; trial < 50; trial++) {
      const others = Float32Array.of(0, r.next(), r.next(), r.normal());
      const u = grid(up, 0, others);
      const d = grid(down, 0, others);
      for (let k = 1; k < u.length; k++) {
        expect(u[k]).toBeGreaterThanOrEqual(u[k - 1] - 1e-12);
        expect(d[k]).toBeLessThanOrEqual(d[k - 1] + 1e-12);
      }
      const b = grid(down, 1, Float32Array.of(r.next(), 0, r.next(), r.normal()));
      for (let k = 1; k < b.length; k++) expect(b[k]).toBeGreaterThanOrEqual(b[k - 1] - 1e-12);
    }
    // Still learns the part of the shape the constraint allows.
    const u = grid(up, 0, Float32Array.of(0, 0.5, 0.5, 0));
    expect(u[100]).toBeGreaterThan(u[50] + 0.05);
  });

  it('refuses more constraints than features', () => {
    expect(() => trainGbdt(uShaped(100, 1), { featureNames: NAMES, featureVersion: 't' }, { ...params, maxTrees: 1, monotone: [1, 0, 0, 0, 1] })).toThrow(/monotone has 5 entries/);
  });
});
