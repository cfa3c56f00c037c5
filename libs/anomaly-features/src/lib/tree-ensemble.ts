import { ModelFormatError } from './features.errors';

/** One regression tree in flat arrays; node 0 is the root, `feature` -1 marks a leaf. */
export interface TreeJson {
  feature: number[];
  /** Go left when x[feature] <= threshold (float32 comparison, as onnxruntime does). */
  threshold: number[];
  left: number[];
  right: number[];
  /** Raw-score value of every node: the leaf output, or what the node would output as a leaf. */
  value: number[];
  /** Training hessian mass that reached each node (informational). */
  cover: number[];
}

export const TREES_FORMAT = 'gbdt-logistic/1';

/** The JSON form of a logistic gradient-boosted tree ensemble (`trees.json`). */
export interface TreeEnsembleJson {
  format: typeof TREES_FORMAT;
  feature_names: string[];
  feature_version: string;
  /** Raw score (logit) before any tree. */
  base_score: number;
  trees: TreeJson[];
}

/** Per-feature contributions to the raw score: bias + sum(values) = margin (logit). */
export interface Contributions {
  readonly bias: number;
  readonly values: Float64Array;
  readonly margin: number;
}

function fail(msg: string): never {
  throw new ModelFormatError(msg);
}

function numbers(x: unknown, len: number, what: string): number[] {
  if (
    !Array.isArray(x) ||
    x.length !== len ||
    !x.every((v) => typeof v === 'number' && Number.isFinite(v))
  ) {
    fail(`${what}: expected ${len} finite numbers`);
  }
  return x as number[];
}

function checkTree(t: unknown, i: number, featureCount: number): TreeJson {
  const tree = t as TreeJson;
  if (
    !tree ||
    typeof tree !== 'object' ||
    !Array.isArray(tree.feature) ||
    tree.feature.length === 0
  ) {
    fail(`tree ${i}: no nodes`);
  }
  const n = tree.feature.length;
  const feature = numbers(tree.feature, n, `tree ${i} feature`);
  const left = numbers(tree.left, n, `tree ${i} left`);
  const right = numbers(tree.right, n, `tree ${i} right`);
  const threshold = numbers(tree.threshold, n, `tree ${i} threshold`).map((v) =>
    Math.fround(v),
  );
  const value = numbers(tree.value, n, `tree ${i} value`);
  const cover = numbers(tree.cover, n, `tree ${i} cover`);
  for (let k = 0; k < n; k++) {
    if (feature[k] === -1) continue;
    if (
      !Number.isInteger(feature[k]) ||
      feature[k] < 0 ||
      feature[k] >= featureCount
    ) {
      fail(`tree ${i} node ${k}: feature index out of range`);
    }
    // Children come after their parent: rules out cycles and keeps evaluation finite.
    for (const c of [left[k], right[k]]) {
      if (!Number.isInteger(c) || c <= k || c >= n)
        fail(`tree ${i} node ${k}: bad child ${c}`);
    }
  }
  return { feature, threshold, left, right, value, cover };
}

/**
 * A gradient-boosted tree ensemble with logistic output, evaluated exactly like the
 * exported ONNX graph (TreeEnsembleRegressor with BRANCH_LEQ, then Sigmoid), plus
 * Saabas path attribution: each split on the path credits its feature with the change in
 * node value it causes.
 */
/**
 * Every tree's nodes in one set of typed arrays (children as absolute indices, `roots[t]` the
 * first node of tree t): the hot loops of `margin` and `contributions` walk flat memory
 * instead of 192 small JS arrays. The arithmetic (and its order) is that of the JSON trees.
 */
interface FlatTrees {
  readonly roots: Int32Array;
  readonly feature: Int32Array;
  readonly threshold: Float32Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly value: Float64Array;
}

function flatten(trees: readonly TreeJson[]): FlatTrees {
  const total = trees.reduce((n, t) => n + t.feature.length, 0);
  const flat = {
    roots: new Int32Array(trees.length),
    feature: new Int32Array(total),
    threshold: new Float32Array(total),
    left: new Int32Array(total),
    right: new Int32Array(total),
    value: new Float64Array(total),
  };
  let at = 0;
  trees.forEach((t, i) => {
    flat.roots[i] = at;
    for (let k = 0; k < t.feature.length; k++) {
      flat.feature[at + k] = t.feature[k];
      flat.threshold[at + k] = t.threshold[k];
      flat.left[at + k] = t.left[k] + at;
      flat.right[at + k] = t.right[k] + at;
      flat.value[at + k] = t.value[k];
    }
    at += t.feature.length;
  });
  return flat;
}

export class TreeEnsemble {
  private readonly flat: FlatTrees;

  private constructor(
    readonly featureNames: readonly string[],
    readonly featureVersion: string,
    readonly baseScore: number,
    readonly trees: readonly TreeJson[],
  ) {
    this.flat = flatten(trees);
  }

  /** Validates a parsed trees.json; throws ModelFormatError when it is not one. */
  static fromJSON(json: unknown): TreeEnsemble {
    const j = json as TreeEnsembleJson;
    if (!j || typeof j !== 'object' || j.format !== TREES_FORMAT)
      fail(`format must be ${TREES_FORMAT}`);
    if (
      !Array.isArray(j.feature_names) ||
      !j.feature_names.every((n) => typeof n === 'string')
    ) {
      fail('feature_names must be strings');
    }
    if (typeof j.feature_version !== 'string')
      fail('feature_version must be a string');
    if (typeof j.base_score !== 'number' || !Number.isFinite(j.base_score))
      fail('base_score must be a number');
    if (!Array.isArray(j.trees)) fail('trees must be an array');
    const trees = j.trees.map((t, i) =>
      checkTree(t, i, j.feature_names.length),
    );
    return new TreeEnsemble(
      Object.freeze([...j.feature_names]),
      j.feature_version,
      j.base_score,
      trees,
    );
  }

  toJSON(): TreeEnsembleJson {
    return {
      format: TREES_FORMAT,
      feature_names: [...this.featureNames],
      feature_version: this.featureVersion,
      base_score: this.baseScore,
      trees: this.trees.map((t) => ({ ...t })),
    };
  }

  /** Raw score (logit). */
  margin(x: ArrayLike<number>): number {
    const { roots, feature, threshold, left, right, value } = this.flat;
    let s = this.baseScore;
    for (let t = 0; t < roots.length; t++) {
      let k = roots[t];
      let f = feature[k];
      while (f !== -1) {
        k = Math.fround(x[f]) <= threshold[k] ? left[k] : right[k];
        f = feature[k];
      }
      s += value[k];
    }
    return s;
  }

  /** Probability-like score in (0, 1). */
  predict(x: ArrayLike<number>): number {
    return 1 / (1 + Math.exp(-this.margin(x)));
  }

  /**
   * Per-feature contributions along each tree's decision path (the change of the node value at
   * every split is credited to the split's feature), so bias + sum(values) = margin.
   */
  contributions(x: ArrayLike<number>): Contributions {
    const { roots, feature, threshold, left, right, value } = this.flat;
    const values = new Float64Array(this.featureNames.length);
    let bias = this.baseScore;
    let margin = this.baseScore;
    for (let t = 0; t < roots.length; t++) {
      let k = roots[t];
      bias += value[k];
      let f = feature[k];
      while (f !== -1) {
        const next = Math.fround(x[f]) <= threshold[k] ? left[k] : right[k];
        values[f] += value[next] - value[k];
        k = next;
        f = feature[k];
      }
      margin += value[k];
    }
    return { bias, values, margin };
  }
}
