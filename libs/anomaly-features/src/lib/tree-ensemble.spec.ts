import { isModelFormatError } from './features.errors';
import {
  TREES_FORMAT,
  TreeEnsemble,
  type TreeEnsembleJson,
} from './tree-ensemble';

/** Two stumps and a depth-2 tree over three features. */
function model(): TreeEnsembleJson {
  return {
    format: TREES_FORMAT,
    feature_names: ['a', 'b', 'c'],
    feature_version: 'test/1',
    base_score: -2,
    trees: [
      {
        feature: [0, -1, -1],
        threshold: [0.5, 0, 0],
        left: [1, 0, 0],
        right: [2, 0, 0],
        value: [0.1, -0.2, 0.6],
        cover: [10, 6, 4],
      },
      {
        feature: [1, 2, -1, -1, -1],
        threshold: [10, 0.1, 0, 0, 0],
        left: [1, 3, 0, 0, 0],
        right: [2, 4, 0, 0, 0],
        value: [0, -0.1, 0.5, -0.3, 0.2],
        cover: [10, 7, 3, 4, 3],
      },
    ],
  };
}

describe('TreeEnsemble', () => {
  it('follows x <= threshold to the left and adds the base score', () => {
    const m = TreeEnsemble.fromJSON(model());
    expect(m.margin([0, 0, 0])).toBeCloseTo(-2 - 0.2 - 0.3, 12);
    expect(m.margin([1, 5, 1])).toBeCloseTo(-2 + 0.6 + 0.2, 12);
    expect(m.margin([0.5, 11, 0])).toBeCloseTo(-2 - 0.2 + 0.5, 12);
    expect(m.predict([1, 11, 0])).toBeCloseTo(
      1 / (1 + Math.exp(-(-2 + 0.6 + 0.5))),
      12,
    );
  });

  it('compares in float32 like onnxruntime', () => {
    const json = model();
    json.trees[0].threshold[0] = Math.fround(0.1);
    const m = TreeEnsemble.fromJSON(json);
    // 0.1 as a double is above float32(0.1) but rounds to it in float32: goes left.
    expect(0.1 > Math.fround(0.1)).toBe(false);
    expect(0.10000000149011613 > Math.fround(0.1)).toBe(true);
    expect(m.margin([0.10000000149011613, 0, 0])).toBeCloseTo(
      m.margin([0, 0, 0]),
      12,
    );
  });

  it('attributes the margin to features along the decision path (Saabas)', () => {
    const m = TreeEnsemble.fromJSON(model());
    for (const x of [
      [0, 0, 0],
      [1, 5, 1],
      [1, 11, 0],
      [0.2, 3, 0.05],
    ]) {
      const c = m.contributions(x);
      expect(c.bias).toBeCloseTo(-2 + 0.1 + 0, 12);
      expect(c.margin).toBeCloseTo(m.margin(x), 12);
      expect(c.bias + c.values.reduce((a, b) => a + b, 0)).toBeCloseTo(
        c.margin,
        12,
      );
    }
    const c = m.contributions([1, 5, 1]);
    expect(c.values[0]).toBeCloseTo(0.6 - 0.1, 12);
    expect(c.values[1]).toBeCloseTo(-0.1 - 0, 12);
    expect(c.values[2]).toBeCloseTo(0.2 + 0.1, 12);
  });

  it('round-trips through JSON', () => {
    const m = TreeEnsemble.fromJSON(
      JSON.parse(JSON.stringify(TreeEnsemble.fromJSON(model()).toJSON())),
    );
    expect(m.featureNames).toEqual(['a', 'b', 'c']);
    expect(m.featureVersion).toBe('test/1');
    expect(m.trees).toHaveLength(2);
    expect(m.margin([1, 5, 1])).toBeCloseTo(-1.2, 6);
  });

  it('rejects malformed models with a ModelFormatError', () => {
    const broken: Array<(j: TreeEnsembleJson) => unknown> = [
      (j) => ({ ...j, format: 'xgboost' }),
      (j) => ({ ...j, feature_names: [1, 2] }),
      (j) => ({ ...j, feature_version: 3 }),
      (j) => ({ ...j, base_score: 'x' }),
      (j) => ({ ...j, trees: {} }),
      (j) => ({ ...j, trees: [{ ...j.trees[0], feature: [] }] }),
      (j) => ({ ...j, trees: [{ ...j.trees[0], feature: [7, -1, -1] }] }),
      (j) => ({ ...j, trees: [{ ...j.trees[0], left: [0, 0, 0] }] }),
      (j) => ({ ...j, trees: [{ ...j.trees[0], value: [1, 2] }] }),
      (j) => ({
        ...j,
        trees: [{ ...j.trees[0], threshold: [Number.NaN, 0, 0] }],
      }),
      () => null,
    ];
    for (const make of broken) {
      let caught: unknown;
      try {
        TreeEnsemble.fromJSON(make(model()));
      } catch (e) {
        caught = e;
      }
      expect(isModelFormatError(caught)).toBe(true);
      expect(caught).toMatchObject({ code: 'INVALID_MODEL_FORMAT' });
    }
  });
});
