import {
  TREES_FORMAT,
  type TreeEnsembleJson,
  type TreeJson,
} from '@ml/anomaly-features';
import type { Dataset } from './dataset';
import { Rng } from './sim.random';

export interface GbdtParams {
  /** Upper bound on trees; the kept count is the one with the lowest validation loss. */
  readonly maxTrees: number;
  readonly minTrees: number;
  readonly maxDepth: number;
  readonly learningRate: number;
  /** L2 penalty on leaf values. */
  readonly lambda: number;
  readonly minChildHessian: number;
  readonly minChildRows: number;
  readonly minGain: number;
  /** Share of rows each tree is grown on. */
  readonly rowSubsample: number;
  /** Histogram bins per feature (at most 256). */
  readonly maxBins: number;
  readonly seed: number;
  /**
   * Per feature: 1 = the score never decreases as the feature grows, -1 = never increases, 0 (or
   * absent) = free. Enforced on every tree (split values ordered, children bounded by their
   * parent's midpoint), so the whole ensemble is monotone in those features.
   */
  readonly monotone?: readonly number[];
}

export const DEFAULT_PARAMS: GbdtParams = {
  maxTrees: 200,
  minTrees: 60,
  maxDepth: 4,
  learningRate: 0.1,
  lambda: 1,
  minChildHessian: 0.5,
  minChildRows: 20,
  minGain: 1e-3,
  rowSubsample: 0.8,
  maxBins: 64,
  seed: 1,
};

export interface TrainResult {
  readonly model: TreeEnsembleJson;
  /** Weighted log loss after each tree (train) and on the validation rows, when given. */
  readonly trainLoss: number[];
  readonly validLoss: number[];
  readonly bestTrees: number;
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

function logLoss(
  margin: Float64Array,
  y: Uint8Array,
  w: Float32Array,
  n: number,
): number {
  let loss = 0;
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, sigmoid(margin[i])));
    loss -= w[i] * (y[i] ? Math.log(p) : Math.log(1 - p));
    wsum += w[i];
  }
  return loss / wsum;
}

/**
 * Candidate thresholds of one feature: observed (float32) values, so "x <= cut" means the
 * same in float64 here and in float32 inside onnxruntime.
 */
export function featureCuts(
  x: Float32Array,
  n: number,
  featureCount: number,
  f: number,
  maxBins: number,
): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = x[i * featureCount + f];
  v.sort();
  const unique: number[] = [];
  for (let i = 0; i < n; i++)
    if (i === 0 || v[i] !== v[i - 1]) unique.push(v[i]);
  if (unique.length <= maxBins) return Float32Array.from(unique.slice(0, -1));
  const cuts: number[] = [];
  const max = unique[unique.length - 1];
  for (let q = 1; q < maxBins; q++) {
    const c = v[Math.floor((q * n) / maxBins)];
    if (c < max && (cuts.length === 0 || c > cuts[cuts.length - 1]))
      cuts.push(c);
  }
  return Float32Array.from(cuts);
}

function binOf(cuts: Float32Array, value: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= cuts[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

interface Split {
  feature: number;
  bin: number;
  gain: number;
}

interface Pending {
  id: number;
  /** Bounds on this node's (and its descendants') leaf values, from monotone splits above it. */
  min: number;
  max: number;
  lo: number;
  hi: number;
  depth: number;
  hist: Float64Array;
  g: number;
  h: number;
}

/**
 * Gradient-boosted regression trees with logistic loss: second-order (Newton) leaf values,
 * histogram split search, depth-wise growth, row subsampling from a seeded generator.
 * Deterministic: the same data and parameters give the same trees, bit for bit.
 */
export function trainGbdt(
  data: Dataset,
  meta: { featureNames: readonly string[]; featureVersion: string },
  params: GbdtParams = DEFAULT_PARAMS,
  valid?: Dataset,
): TrainResult {
  const n = data.length;
  const F = data.featureCount;
  const { x, y, w } = data;
  const B = params.maxBins;
  const cuts: Float32Array[] = [];
  // Row-major bins: building a histogram walks each row's bins contiguously.
  const binned = new Uint8Array(F * n);
  for (let f = 0; f < F; f++) {
    cuts.push(featureCuts(x, n, F, f, B));
    for (let i = 0; i < n; i++)
      binned[i * F + f] = binOf(cuts[f], x[i * F + f]);
  }

  let wPos = 0;
  let wAll = 0;
  for (let i = 0; i < n; i++) {
    wAll += w[i];
    if (y[i]) wPos += w[i];
  }
  const prior = Math.min(1 - 1e-6, Math.max(1e-6, wPos / wAll));
  const base = Math.fround(Math.log(prior / (1 - prior)));
  const margin = new Float64Array(n).fill(base);
  const vMargin = new Float64Array(valid?.length ?? 0).fill(base);
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const rows = new Int32Array(n);
  const scratch = new Int32Array(n);
  const rng = new Rng(params.seed, 0x6bd7);
  const trees: TreeJson[] = [];
  const trainLoss: number[] = [];
  const validLoss: number[] = [];
  const { lambda } = params;
  const rawValue = (g: number, h: number): number => (-g / (h + lambda)) * params.learningRate;
  const leafValue = (g: number, h: number, min = -Infinity, max = Infinity): number =>
    Math.fround(Math.min(max, Math.max(min, rawValue(g, h))));
  const monotone = params.monotone ?? [];
  if (monotone.length > F) throw new RangeError(`monotone has ${monotone.length} entries for ${F} features`);

  const histogram = (lo: number, hi: number): Float64Array => {
    const hist = new Float64Array(F * B * 3);
    for (let k = lo; k < hi; k++) {
      const i = rows[k];
      const g = grad[i];
      const h = hess[i];
      const row = i * F;
      for (let f = 0; f < F; f++) {
        const at = (f * B + binned[row + f]) * 3;
        hist[at] += g;
        hist[at + 1] += h;
        hist[at + 2] += 1;
      }
    }
    return hist;
  };

  const bestSplit = (node: Pending): Split | undefined => {
    const parent = (node.g * node.g) / (node.h + lambda);
    const count = node.hi - node.lo;
    let best: Split | undefined;
    for (let f = 0; f < F; f++) {
      const bins = cuts[f].length;
      let gl = 0;
      let hl = 0;
      let cl = 0;
      const hb = f * B * 3;
      for (let b = 0; b < bins; b++) {
        gl += node.hist[hb + b * 3];
        hl += node.hist[hb + b * 3 + 1];
        cl += node.hist[hb + b * 3 + 2];
        const hr = node.h - hl;
        const cr = count - cl;
        if (cl < params.minChildRows || hl < params.minChildHessian) continue;
        if (cr < params.minChildRows || hr < params.minChildHessian) break;
        const gr = node.g - gl;
        const dir = monotone[f] ?? 0;
        if (dir !== 0) {
          const vl = Math.min(node.max, Math.max(node.min, rawValue(gl, hl)));
          const vr = Math.min(node.max, Math.max(node.min, rawValue(gr, hr)));
          if (dir > 0 ? vl > vr : vl < vr) continue;
        }
        const gain =
          (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parent;
        if (gain > params.minGain && (!best || gain > best.gain))
          best = { feature: f, bin: b, gain };
      }
    }
    return best;
  };

  for (let t = 0; t < params.maxTrees; t++) {
    for (let i = 0; i < n; i++) {
      const p = sigmoid(margin[i]);
      grad[i] = w[i] * (p - y[i]);
      hess[i] = Math.max(w[i] * p * (1 - p), 1e-12);
    }
    let m = 0;
    for (let i = 0; i < n; i++)
      if (rng.next() < params.rowSubsample) rows[m++] = i;

    const tree: TreeJson = {
      feature: [],
      threshold: [],
      left: [],
      right: [],
      value: [],
      cover: [],
    };
    const addNode = (g: number, h: number, min = -Infinity, max = Infinity): number => {
      tree.feature.push(-1);
      tree.threshold.push(0);
      tree.left.push(0);
      tree.right.push(0);
      tree.value.push(leafValue(g, h, min, max));
      tree.cover.push(Math.fround(h));
      return tree.feature.length - 1;
    };
    let g0 = 0;
    let h0 = 0;
    for (let k = 0; k < m; k++) {
      g0 += grad[rows[k]];
      h0 += hess[rows[k]];
    }
    const queue: Pending[] = [
      {
        id: addNode(g0, h0),
        min: -Infinity,
        max: Infinity,
        lo: 0,
        hi: m,
        depth: 0,
        hist: histogram(0, m),
        g: g0,
        h: h0,
      },
    ];
    while (queue.length > 0) {
      const node = queue.shift() as Pending;
      if (node.depth >= params.maxDepth) continue;
      const split = bestSplit(node);
      if (!split) continue;
      const { feature: f, bin } = split;
      // Stable partition of the node's rows: left keeps x <= cut.
      let l = node.lo;
      let r = 0;
      let gl = 0;
      let hl = 0;
      for (let k = node.lo; k < node.hi; k++) {
        const i = rows[k];
        if (binned[i * F + f] <= bin) {
          rows[l++] = i;
          gl += grad[i];
          hl += hess[i];
        } else scratch[r++] = i;
      }
      rows.set(scratch.subarray(0, r), l);
      const leftSmaller = l - node.lo <= node.hi - l;
      const small = leftSmaller ? histogram(node.lo, l) : histogram(l, node.hi);
      const large = new Float64Array(node.hist.length);
      for (let k = 0; k < large.length; k++) large[k] = node.hist[k] - small[k];
      const gr = node.g - gl;
      const hr = node.h - hl;
      // A monotone split bounds each side by the midpoint of the two values, so no leaf below
      // the left child can exceed any leaf below the right one (or the reverse for -1).
      let leftMin = node.min;
      let leftMax = node.max;
      let rightMin = node.min;
      let rightMax = node.max;
      const dir = monotone[f] ?? 0;
      if (dir !== 0) {
        const vl = Math.min(node.max, Math.max(node.min, rawValue(gl, hl)));
        const vr = Math.min(node.max, Math.max(node.min, rawValue(gr, hr)));
        const mid = (vl + vr) / 2;
        if (dir > 0) {
          leftMax = Math.min(leftMax, mid);
          rightMin = Math.max(rightMin, mid);
        } else {
          leftMin = Math.max(leftMin, mid);
          rightMax = Math.min(rightMax, mid);
        }
      }
      const leftId = addNode(gl, hl, leftMin, leftMax);
      const rightId = addNode(gr, hr, rightMin, rightMax);
      tree.feature[node.id] = f;
      tree.threshold[node.id] = cuts[f][bin];
      tree.left[node.id] = leftId;
      tree.right[node.id] = rightId;
      queue.push(
        {
          id: leftId,
          min: leftMin,
          max: leftMax,
          lo: node.lo,
          hi: l,
          depth: node.depth + 1,
          hist: leftSmaller ? small : large,
          g: gl,
          h: hl,
        },
        {
          id: rightId,
          min: rightMin,
          max: rightMax,
          lo: l,
          hi: node.hi,
          depth: node.depth + 1,
          hist: leftSmaller ? large : small,
          g: gr,
          h: hr,
        },
      );
    }
    trees.push(tree);

    const leafFor = (src: Float32Array, i: number): number => {
      let k = 0;
      while (tree.feature[k] !== -1)
        k =
          src[i * F + tree.feature[k]] <= tree.threshold[k]
            ? tree.left[k]
            : tree.right[k];
      return tree.value[k];
    };
    for (let i = 0; i < n; i++) margin[i] += leafFor(x, i);
    trainLoss.push(logLoss(margin, y, w, n));
    if (valid) {
      for (let i = 0; i < valid.length; i++) vMargin[i] += leafFor(valid.x, i);
      validLoss.push(logLoss(vMargin, valid.y, valid.w, valid.length));
    }
  }

  let bestTrees = params.maxTrees;
  if (valid && validLoss.length > 0) {
    bestTrees = params.minTrees;
    for (let t = params.minTrees; t <= validLoss.length; t++) {
      if (validLoss[t - 1] < validLoss[bestTrees - 1]) bestTrees = t;
    }
  }
  return {
    model: {
      format: TREES_FORMAT,
      feature_names: [...meta.featureNames],
      feature_version: meta.featureVersion,
      base_score: base,
      trees: trees.slice(0, bestTrees),
    },
    trainLoss,
    validLoss,
    bestTrees,
  };
}
