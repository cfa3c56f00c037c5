import {
  accuracy,
  answeredUnknown,
  argmaxRow,
  confidenceThreshold,
  confusionHotSpots,
  macroF1,
  perClassF1,
  serviceAnswers,
  serviceThreshold,
  type ServiceAnswers,
} from './metrics';
import { mulberry32 } from './sources';

/** Answers given directly: confidences and the rows a reject class claims. */
function answers(
  confidence: number[],
  rejected: number[] = [],
): ServiceAnswers {
  return {
    best: new Int32Array(confidence.length),
    confidence: Float64Array.from(confidence),
    rejected: Uint8Array.from(confidence, (_, i) =>
      rejected.includes(i) ? 1 : 0,
    ),
  };
}

const unknownCount = (a: ServiceAnswers, threshold: number): number =>
  answeredUnknown(a, threshold).filter(Boolean).length;

/** Seeded [rows x classes] softmax-like rows (each sums to 1). */
function randomRows(rows: number, classes: number, seed: number): Float64Array {
  const random = mulberry32(seed);
  const p = new Float64Array(rows * classes);
  for (let i = 0; i < rows; i++) {
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      const v = random() ** 3;
      p[i * classes + k] = v;
      sum += v;
    }
    for (let k = 0; k < classes; k++) p[i * classes + k] /= sum;
  }
  return p;
}

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

  describe('perClassF1', () => {
    it('gives 2tp / (2tp + fp + fn) per class and null for a class seen nowhere', () => {
      // class 0: tp 1, fn 1 -> 2/3; class 1: tp 1, fp 1 -> 2/3; class 2: tp 1 -> 1;
      // class 3: absent -> null.
      const f1 = perClassF1([0, 0, 1, 2], [0, 1, 1, 2], 4);
      expect(f1).toHaveLength(4);
      expect(f1[0]).toBeCloseTo(2 / 3, 12);
      expect(f1[1]).toBeCloseTo(2 / 3, 12);
      expect(f1[2]).toBe(1);
      expect(f1[3]).toBeNull();
    });

    it('gives 0 to a class only ever predicted wrongly or only ever missed', () => {
      // class 1 is never true (fp only), class 2 is never predicted (fn only).
      expect(perClassF1([0, 2, 0], [0, 1, 1], 3)).toEqual([2 / 3, 0, 0]);
    });

    it('is all null without examples and all 1 for a perfect prediction', () => {
      expect(perClassF1([], [], 3)).toEqual([null, null, null]);
      expect(perClassF1([2, 0, 1, 1], [2, 0, 1, 1], 3)).toEqual([1, 1, 1]);
    });

    it('macroF1 is the mean of the non-null perClassF1 values', () => {
      const truth = [0, 1, 1, 2, 3, 3, 3, 0];
      const pred = [0, 1, 3, 2, 3, 1, 3, 2];
      const f1 = perClassF1(truth, pred, 6).filter(
        (x): x is number => x !== null,
      );
      expect(f1).toHaveLength(4);
      expect(macroF1(truth, pred, 6)).toBeCloseTo(
        f1.reduce((a, b) => a + b, 0) / f1.length,
        12,
      );
    });
  });

  describe('macroF1 with excluded (reject) classes', () => {
    // class 0: 2/3, class 1: 2/3, class 2 (reject): 1.
    const truth = [0, 0, 1, 2];
    const pred = [0, 1, 1, 2];

    it('leaves the excluded classes out of the mean', () => {
      expect(macroF1(truth, pred, 3, new Set([2]))).toBeCloseTo(2 / 3, 12);
      expect(macroF1(truth, pred, 3)).toBeCloseTo((2 / 3 + 2 / 3 + 1) / 3, 12);
    });

    it("still counts a reject class's mistakes in the other classes' F1", () => {
      // An in-scope row of class 0 predicted as the reject class 2 lowers class 0's recall.
      expect(macroF1([0, 0, 1, 2], [0, 2, 1, 2], 3, new Set([2]))).toBeCloseTo(
        (2 / 3 + 1) / 2,
        12,
      );
    });

    it('ignores excluded classes that do not occur, and is 0 when every present class is excluded', () => {
      expect(macroF1(truth, pred, 4, new Set([3]))).toBe(
        macroF1(truth, pred, 4),
      );
      expect(macroF1([2, 2], [2, 2], 3, new Set([2]))).toBe(0);
    });
  });

  describe('serviceAnswers', () => {
    it('without reject classes is the argmax of every row, with its probability', () => {
      const p = randomRows(50, 7, 3);
      const a = serviceAnswers(p, 7, new Set());
      expect(a.best).toHaveLength(50);
      for (let i = 0; i < 50; i++) {
        expect(a.best[i]).toBe(argmaxRow(p, 7, i));
        expect(a.confidence[i]).toBe(Math.max(...p.subarray(i * 7, i * 7 + 7)));
      }
      expect(Array.from(a.rejected)).toEqual(new Array(50).fill(0));
    });

    it('breaks ties towards the lower index', () => {
      const b = serviceAnswers(
        [0.4, 0.4, 0.2, 0.1, 0.45, 0.45, 1 / 3, 1 / 3, 1 / 3],
        3,
        new Set(),
      );
      expect(Array.from(b.best)).toEqual([0, 1, 0]);
      expect(Array.from(b.confidence)).toEqual([0.4, 0.45, 1 / 3]);
    });

    it('never answers a reject class and flags the rows a reject class wins', () => {
      const p = [
        // reject class 2 wins: best in-scope is class 1
        0.1, 0.3, 0.6,
        // class 0 wins
        0.7, 0.1, 0.2,
        // reject class 2 second
        0.2, 0.35, 0.45,
      ];
      const a = serviceAnswers(p, 3, new Set([2]));
      expect(Array.from(a.best)).toEqual([1, 0, 1]);
      expect(Array.from(a.confidence)).toEqual([0.3, 0.7, 0.35]);
      expect(Array.from(a.rejected)).toEqual([1, 0, 1]);
    });

    it('skips every reject class, wherever it sits', () => {
      const p = [0.5, 0.1, 0.3, 0.1];
      const a = serviceAnswers(p, 4, new Set([0, 2]));
      expect(a.best[0]).toBe(1);
      expect(a.confidence[0]).toBe(0.1);
      expect(a.rejected[0]).toBe(1);
      // A reject class that is neither first nor most probable rejects nothing.
      const b = serviceAnswers([0.1, 0.6, 0.2, 0.1], 4, new Set([0, 2]));
      expect([b.best[0], b.rejected[0]]).toEqual([1, 0]);
    });

    it('on a tie between a reject class and an intent, the lower index wins as in the service', () => {
      // The service's argmax takes the first maximum: a reject class before the intent claims the row.
      const first = serviceAnswers([0.45, 0.45, 0.1], 3, new Set([0]));
      expect([first.best[0], first.confidence[0], first.rejected[0]]).toEqual([
        1, 0.45, 1,
      ]);
      const after = serviceAnswers([0.45, 0.45, 0.1], 3, new Set([1]));
      expect([after.best[0], after.confidence[0], after.rejected[0]]).toEqual([
        0, 0.45, 0,
      ]);
    });

    it('with a reject set, the in-scope answer is the argmax of the row without the reject columns', () => {
      const classes = 6;
      const reject = new Set([1, 4]);
      const p = randomRows(40, classes, 11);
      const a = serviceAnswers(p, classes, reject);
      const kept = [0, 2, 3, 5];
      for (let i = 0; i < 40; i++) {
        const row = kept.map((k) => p[i * classes + k]);
        const j = row.indexOf(Math.max(...row));
        expect(a.best[i]).toBe(kept[j]);
        expect(a.confidence[i]).toBe(row[j]);
        expect(a.rejected[i]).toBe(
          reject.has(argmaxRow(p, classes, i)) ? 1 : 0,
        );
      }
    });

    it('gives empty answers for no rows', () => {
      const a = serviceAnswers([], 3, new Set([2]));
      expect([a.best.length, a.confidence.length, a.rejected.length]).toEqual([
        0, 0, 0,
      ]);
    });
  });

  describe('answeredUnknown', () => {
    it('is true below the threshold (not at it) and wherever a reject class won', () => {
      const a = answers([0.2, 0.5, 0.51, 0.9, 0.99], [3]);
      expect(answeredUnknown(a, 0.5)).toEqual([
        true,
        false,
        false,
        true,
        false,
      ]);
    });

    it('with threshold 0 answers every row a reject class did not win', () => {
      expect(answeredUnknown(answers([0, 0.1, 0.3], [1]), 0)).toEqual([
        false,
        true,
        false,
      ]);
    });

    it('works on serviceAnswers output', () => {
      const a = serviceAnswers(
        [0.1, 0.3, 0.6, 0.5, 0.3, 0.2, 0.34, 0.33, 0.33],
        3,
        new Set([2]),
      );
      expect(answeredUnknown(a, 0.4)).toEqual([true, false, true]);
      expect(answeredUnknown(answers([]), 0.5)).toEqual([]);
    });
  });

  describe('serviceThreshold', () => {
    it('without rejections equals confidenceThreshold of the best confidences', () => {
      const p = randomRows(200, 5, 7);
      const a = serviceAnswers(p, 5, new Set());
      for (const rate of [0, 0.02, 0.1, 0.5, 1])
        expect(serviceThreshold(a, rate)).toBe(
          confidenceThreshold(a.confidence, rate),
        );
    });

    it('is the highest 4-decimal threshold leaving at most the share unknown, rejections included', () => {
      const classes = 5;
      for (const seed of [1, 2, 3]) {
        const p = randomRows(300, classes, seed);
        const a = serviceAnswers(p, classes, new Set([4]));
        const rejected = a.rejected.reduce((s, r) => s + r, 0);
        expect(rejected).toBeGreaterThan(0);
        for (const rate of [0.3, 0.5, 0.7]) {
          const budget = Math.floor(rate * 300);
          expect(rejected).toBeLessThanOrEqual(budget);
          const t = serviceThreshold(a, rate);
          expect(Math.round(t * 1e4) / 1e4).toBe(t);
          expect(unknownCount(a, t)).toBeLessThanOrEqual(budget);
          // One step higher (past the next confidence) answers one row too many unknown.
          expect(
            unknownCount(a, (Math.round(t * 1e4) + 1) / 1e4),
          ).toBeGreaterThan(budget);
        }
      }
    });

    it('counts the rows a reject class claims against the budget', () => {
      // 10 rows, 20% -> 2 may be unknown; one is already rejected, so only one more.
      const conf = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99];
      expect(serviceThreshold(answers(conf), 0.2)).toBe(0.5);
      const a = answers(conf, [9]);
      expect(serviceThreshold(a, 0.2)).toBe(0.4);
      expect(unknownCount(a, 0.4)).toBe(2);
      // The rejected row's own (low) confidence does not count twice.
      const low = answers(conf, [0]);
      expect(serviceThreshold(low, 0.2)).toBe(0.5);
      expect(unknownCount(low, 0.5)).toBe(2);
    });

    it('keeps every other row answered when the rejections use up the budget exactly', () => {
      const a = answers(
        [0.31234, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.9, 0.9, 0.1],
        [8, 9],
      );
      // 20% of 10 = 2 = the rejections: the threshold is the lowest open confidence, floored.
      expect(serviceThreshold(a, 0.2)).toBe(0.3123);
      expect(unknownCount(a, 0.3123)).toBe(2);
    });

    it('is 0 when the rejections alone exceed the budget', () => {
      const a = answers(
        [0.5, 0.6, 0.7, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9],
        [0, 1, 2],
      );
      expect(serviceThreshold(a, 0.2)).toBe(0);
      expect(serviceThreshold(answers([0.9, 0.8], [0]), 0)).toBe(0);
    });

    it('is 0 when every row is rejected, and for no rows', () => {
      expect(serviceThreshold(answers([0.4, 0.6], [0, 1]), 1)).toBe(0);
      expect(serviceThreshold(answers([]), 0.02)).toBe(0);
      expect(serviceThreshold(serviceAnswers([], 4, new Set([1])), 0.5)).toBe(
        0,
      );
    });

    it('with a zero rate is the lowest confidence; with room for every row, the highest', () => {
      const conf = [0.61, 0.42, 0.93, 0.55];
      expect(serviceThreshold(answers(conf), 0)).toBe(0.42);
      expect(serviceThreshold(answers(conf), 1)).toBe(0.93);
      expect(serviceThreshold(answers(conf, [2]), 1)).toBe(0.61);
    });

    it('floors to the given decimals, never rounding up', () => {
      const a = answers([0.123456789, 0.9]);
      expect(serviceThreshold(a, 0)).toBe(0.1234);
      expect(serviceThreshold(a, 0, 2)).toBe(0.12);
      expect(serviceThreshold(a, 0, 6)).toBe(0.123456);
      expect(serviceThreshold(a, 0, 0)).toBe(0);
      expect(serviceThreshold(answers([0.99999, 1]), 0, 4)).toBe(0.9999);
      // Flooring keeps the row at the threshold answered.
      expect(unknownCount(a, serviceThreshold(a, 0))).toBe(0);
    });

    it('allows floor(rate * n) rows despite float error in the product', () => {
      // 0.29 * 100 is 28.999999999999996 in floating point: still 29 rows.
      const conf = Array.from({ length: 100 }, (_, i) => (i + 1) / 128);
      expect(serviceThreshold(answers(conf), 0.29)).toBe(
        Math.floor((30 / 128) * 1e4) / 1e4,
      );
    });

    it('with ties at the threshold keeps the tied rows answered', () => {
      const a = answers([0.5, 0.5, 0.5, 0.9]);
      expect(serviceThreshold(a, 0.25)).toBe(0.5);
      expect(unknownCount(a, 0.5)).toBe(0);
    });
  });
});
