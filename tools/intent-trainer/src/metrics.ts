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

/** Unweighted mean of per-class F1 over classes that occur in truth or predictions. */
export function macroF1(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
): number {
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
  let sum = 0;
  let present = 0;
  for (let k = 0; k < classes; k++) {
    if (tp[k] + fp[k] + fn[k] === 0) continue;
    present++;
    sum += (2 * tp[k]) / (2 * tp[k] + fp[k] + fn[k]);
  }
  return present === 0 ? 0 : sum / present;
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
