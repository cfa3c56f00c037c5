/** Index of the largest value in row i of a [rows x classes] matrix (first one on ties). */
export function argmaxRow(
  probabilities: ArrayLike<number>,
  classes: number,
  i: number,
): number {
  let best = 0;
  for (let k = 1; k < classes; k++) {
    if (probabilities[i * classes + k] > probabilities[i * classes + best])
      best = k;
  }
  return best;
}

export function accuracy(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
): number {
  let correct = 0;
  for (let i = 0; i < truth.length; i++)
    if (truth[i] === predicted[i]) correct++;
  return truth.length === 0 ? 0 : correct / truth.length;
}

/**
 * Unweighted mean of per-class F1 over classes that occur in truth or predictions, leaving out
 * `exclude` (reject classes: their mistakes already lower the other classes' recall).
 */
export function macroF1(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
  exclude: ReadonlySet<number> = new Set(),
): number {
  const f1 = perClassF1(truth, predicted, classes);
  const present = f1.filter(
    (x, k) => x !== null && !exclude.has(k),
  ) as number[];
  return present.length === 0
    ? 0
    : present.reduce((a, b) => a + b, 0) / present.length;
}

/** F1 of each class; null for a class that occurs in neither truth nor predictions. */
export function perClassF1(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
): Array<number | null> {
  const tp = new Float64Array(classes);
  const fp = new Float64Array(classes);
  const fn = new Float64Array(classes);
  for (let i = 0; i < truth.length; i++) {
    if (truth[i] === predicted[i]) tp[truth[i]]++;
    else {
      fp[predicted[i]]++;
      fn[truth[i]]++;
    }
  }
  return Array.from(tp, (t, k) =>
    t + fp[k] + fn[k] === 0 ? null : (2 * t) / (2 * t + fp[k] + fn[k]),
  );
}

/** What the service makes of one probability row (see libs/intent's IntentClassifier). */
export interface ServiceAnswers {
  /** The most probable class that is not a reject class. */
  best: Int32Array;
  /** Its probability: compared with the threshold. */
  confidence: Float64Array;
  /** 1 where a reject class is the most probable of all. */
  rejected: Uint8Array;
}

/**
 * Per row of a [rows x classes] matrix: the best non-reject class, its probability, and whether a
 * reject class beat every other class. The service answers `unknown` when rejected or when the
 * confidence is below the threshold.
 */
export function serviceAnswers(
  probabilities: ArrayLike<number>,
  classes: number,
  reject: ReadonlySet<number>,
): ServiceAnswers {
  const rows = probabilities.length / classes;
  const best = new Int32Array(rows);
  const confidence = new Float64Array(rows);
  const rejected = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    let b = -1;
    for (let k = 0; k < classes; k++)
      if (
        !reject.has(k) &&
        (b < 0 ||
          probabilities[i * classes + k] > probabilities[i * classes + b])
      )
        b = k;
    best[i] = b;
    confidence[i] = probabilities[i * classes + b];
    rejected[i] = reject.has(argmaxRow(probabilities, classes, i)) ? 1 : 0;
  }
  return { best, confidence, rejected };
}

/** True where the service answers `unknown`. */
export function answeredUnknown(
  answers: ServiceAnswers,
  threshold: number,
): boolean[] {
  return Array.from(
    answers.confidence,
    (c, i) => answers.rejected[i] === 1 || c < threshold,
  );
}

/**
 * The highest threshold (floored to `decimals`) at which at most `maxUnknownRate` of the rows
 * are answered `unknown`, counting the rows a reject class already claims.
 */
export function serviceThreshold(
  answers: ServiceAnswers,
  maxUnknownRate: number,
  decimals = 4,
): number {
  const n = answers.confidence.length;
  const open = answers.confidence.filter((_, i) => answers.rejected[i] === 0);
  const allowed = Math.floor(maxUnknownRate * n + 1e-9) - (n - open.length);
  if (open.length === 0 || allowed < 0) return 0;
  const sorted = Float64Array.from(open).sort();
  const scale = 10 ** decimals;
  return (
    Math.floor(sorted[Math.min(allowed, sorted.length - 1)] * scale) / scale
  );
}

/**
 * The highest threshold t such that at most `maxBelowRate` of the confidences are < t: the
 * (floor(rate*n)+1)-th smallest confidence, floored to `decimals` so that float32 inference,
 * which can differ from this Float64 evaluation in the last bits, does not push more below it.
 */
export function confidenceThreshold(
  confidences: ArrayLike<number>,
  maxBelowRate: number,
  decimals = 4,
): number {
  if (confidences.length === 0) return 0;
  const sorted = Float64Array.from(confidences).sort();
  const allowed = Math.floor(maxBelowRate * sorted.length + 1e-9);
  const scale = 10 ** decimals;
  return (
    Math.floor(sorted[Math.min(allowed, sorted.length - 1)] * scale) / scale
  );
}

export interface ConfusionCount {
  true: string;
  predicted: string;
  count: number;
}

/** The `top` most frequent (true, predicted) mistakes; ties broken by label names. */
export function confusionHotSpots(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  labels: readonly string[],
  top: number,
): ConfusionCount[] {
  const counts = new Map<string, ConfusionCount>();
  for (let i = 0; i < truth.length; i++) {
    if (truth[i] === predicted[i]) continue;
    const key = `${truth[i]}:${predicted[i]}`;
    const entry = counts.get(key) ?? {
      true: labels[truth[i]],
      predicted: labels[predicted[i]],
      count: 0,
    };
    entry.count++;
    counts.set(key, entry);
  }
  const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...counts.values()]
    .sort(
      (a, b) =>
        b.count - a.count ||
        byName(a.true, b.true) ||
        byName(a.predicted, b.predicted),
    )
    .slice(0, top);
}
