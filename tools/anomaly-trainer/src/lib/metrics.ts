/** Ranking and threshold metrics for binary scores (unweighted rows). */

function order(scores: ArrayLike<number>, descending: boolean): Int32Array {
  const idx = new Int32Array(scores.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  return idx.sort(
    (a, b) =>
      (descending ? scores[b] - scores[a] : scores[a] - scores[b]) || a - b,
  );
}

/** Area under the ROC curve (Mann-Whitney, ties count half). */
export function rocAuc(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): number {
  const idx = order(scores, false);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && scores[idx[j]] === scores[idx[i]]) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if (labels[idx[k]]) {
        pos++;
        rankSum += avgRank;
      }
    }
    i = j;
  }
  const neg = idx.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Area under the precision-recall curve as average precision (tied scores form one step). */
export function averagePrecision(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): number {
  const idx = order(scores, true);
  let total = 0;
  for (let i = 0; i < labels.length; i++) total += labels[i] ? 1 : 0;
  if (total === 0) return NaN;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    let groupTp = 0;
    while (j < idx.length && scores[idx[j]] === scores[idx[i]]) {
      groupTp += labels[idx[j]] ? 1 : 0;
      j++;
    }
    tp += groupTp;
    seen += j - i;
    ap += (groupTp / total) * (tp / seen);
    i = j;
  }
  return ap;
}

export interface ThresholdStats {
  readonly threshold: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Share of all transactions flagged. */
  readonly alertRate: number;
}

function stats(
  threshold: number,
  tp: number,
  fp: number,
  fn: number,
  n: number,
): ThresholdStats {
  const precision = tp + fp > 0 ? tp / (tp + fp) : 1;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 =
    precision + recall > 0
      ? (2 * precision * recall) / (precision + recall)
      : 0;
  return {
    threshold,
    tp,
    fp,
    fn,
    precision,
    recall,
    f1,
    alertRate: (tp + fp) / n,
  };
}

/** Flags score >= threshold. */
export function atThreshold(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold: number,
): ThresholdStats {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const flagged = scores[i] >= threshold;
    if (labels[i]) {
      if (flagged) tp++;
      else fn++;
    } else if (flagged) fp++;
  }
  return stats(threshold, tp, fp, fn, scores.length);
}

/** Every distinct threshold, from the highest score down. */
export function sweep(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): ThresholdStats[] {
  const idx = order(scores, true);
  let total = 0;
  for (let i = 0; i < labels.length; i++) total += labels[i] ? 1 : 0;
  const out: ThresholdStats[] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && scores[idx[j]] === scores[idx[i]]) {
      if (labels[idx[j]]) tp++;
      else fp++;
      j++;
    }
    out.push(stats(scores[idx[i]], tp, fp, total - tp, scores.length));
    i = j;
  }
  return out;
}

/** Threshold with the best F1; ties go to the higher threshold (fewer alerts). */
export function bestF1(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): ThresholdStats {
  let best: ThresholdStats | undefined;
  for (const s of sweep(scores, labels)) if (!best || s.f1 > best.f1) best = s;
  if (!best) throw new Error('bestF1 needs at least one score');
  return best;
}
