import {
  accuracy,
  argmaxRow,
  confidenceThreshold,
  confusionHotSpots,
  macroF1,
} from './metrics';

describe('metrics', () => {
  it('argmaxRow picks the first maximum of a row', () => {
    const p = [0.1, 0.7, 0.2, 0.4, 0.4, 0.2];
    expect(argmaxRow(p, 3, 0)).toBe(1);
    expect(argmaxRow(p, 3, 1)).toBe(0);
  });

  it('accuracy is the share of exact matches (0 for no examples)', () => {
    expect(accuracy([0, 1, 2, 2], [0, 1, 1, 2])).toBe(0.75);
    expect(accuracy([], [])).toBe(0);
  });

  it('macro-F1 averages per-class F1 over classes that occur', () => {
    // class 0: tp 1 fn 1 -> F1 2/3; class 1: tp 1 fp 1 -> 2/3; class 2: tp 1 -> 1; class 3 absent.
    expect(macroF1([0, 0, 1, 2], [0, 1, 1, 2], 4)).toBeCloseTo(
      (2 / 3 + 2 / 3 + 1) / 3,
      12,
    );
    expect(macroF1([], [], 3)).toBe(0);
  });

  it('threshold: the highest value with at most the given share strictly below it', () => {
    const conf = Array.from({ length: 100 }, (_, i) => 0.5 + i / 200); // 0.5, 0.505, ...
    const t = confidenceThreshold(conf, 0.02);
    expect(conf.filter((c) => c < t)).toHaveLength(2);
    // Any higher threshold (past the next confidence) would put a third example below it.
    expect(conf.filter((c) => c < conf[2] + 1e-9)).toHaveLength(3);
    expect(t).toBe(0.51);
  });

  it('threshold is floored to 4 decimals so float32 rounding cannot push more below it', () => {
    expect(confidenceThreshold([0.123456, 0.9], 0)).toBe(0.1234);
    expect(confidenceThreshold([], 0.02)).toBe(0);
  });

  it('hot spots count (true, predicted) mistakes, most frequent first, ties by name', () => {
    const labels = ['a', 'b', 'c'];
    const truth = [0, 0, 0, 1, 2, 2, 1];
    const pred = [1, 1, 0, 0, 0, 0, 1];
    expect(confusionHotSpots(truth, pred, labels, 2)).toEqual([
      { true: 'a', predicted: 'b', count: 2 },
      { true: 'c', predicted: 'a', count: 2 },
    ]);
  });
});
