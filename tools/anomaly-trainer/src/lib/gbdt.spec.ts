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
