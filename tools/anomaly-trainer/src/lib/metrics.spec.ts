import {
  atThreshold,
  averagePrecision,
  bestF1,
  rocAuc,
  sweep,
} from './metrics';

describe('metrics', () => {
  it('computes ROC-AUC with ties counted half', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(rocAuc([0.1, 0.2], [0, 0])).toBeNaN();
  });

  it('computes average precision as the area under the precision-recall steps', () => {
    expect(averagePrecision([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
    // Ranked: 1 (p=1), 0, 1 (p=2/3): AP = (1 + 2/3) / 2.
    expect(averagePrecision([0.9, 0.5, 0.3], [1, 0, 1])).toBeCloseTo(5 / 6, 12);
    // A tie between a positive and a negative is one step at precision 1/2.
    expect(averagePrecision([0.5, 0.5], [1, 0])).toBe(0.5);
    expect(averagePrecision([0.5], [0])).toBeNaN();
  });

  it('counts the operating point at a threshold (score >= threshold is flagged)', () => {
    const s = atThreshold([0.9, 0.6, 0.6, 0.2, 0.1], [1, 0, 1, 1, 0], 0.6);
    expect(s).toMatchObject({
      tp: 2,
      fp: 1,
      fn: 1,
      precision: 2 / 3,
      recall: 2 / 3,
      alertRate: 3 / 5,
    });
    expect(atThreshold([0.1], [1], 0.5)).toMatchObject({
      precision: 1,
      recall: 0,
      f1: 0,
    });
  });

  it('sweeps distinct thresholds and picks the best F1', () => {
    const scores = [0.95, 0.9, 0.7, 0.7, 0.4, 0.2];
    const labels = [1, 1, 0, 1, 0, 0];
    expect(sweep(scores, labels).map((s) => s.threshold)).toEqual([
      0.95, 0.9, 0.7, 0.4, 0.2,
    ]);
    const best = bestF1(scores, labels);
    expect(best.threshold).toBe(0.7);
    expect(best.f1).toBeCloseTo(0.857142, 5);
    expect(() => bestF1([], [])).toThrow();
  });
});
