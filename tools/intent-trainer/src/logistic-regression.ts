import { minimizeLbfgs, type LbfgsOptions } from './lbfgs';
import type { SoftmaxProblem } from './softmax-problem';
import type { CsrMatrix } from './sparse';

export interface SoftmaxModel {
  /** [features x classes], row-major. */
  weights: Float64Array;
  bias: Float64Array;
  features: number;
  classes: number;
}

export interface FitOptions extends LbfgsOptions {
  /** Inverse L2 strength, as in scikit-learn: minimises C * sum(cross-entropy) + ||W||^2 / 2. */
  c: number;
  /** Start point (e.g. the solution for a neighbouring C); zeros when absent. */
  warmStart?: SoftmaxModel;
}

export interface FitResult {
  model: SoftmaxModel;
  iterations: number;
  evaluations: number;
  converged: boolean;
  loss: number;
}

/**
 * Multinomial logistic regression with an L2 penalty on the weights (not the bias), fitted by
 * full-batch L-BFGS in Float64. The objective is divided by C*n so its scale does not depend on
 * the data size: f = mean(cross-entropy) + ||W||^2 / (2 C n).
 */
export function fitSoftmax(
  problem: SoftmaxProblem,
  options: FitOptions,
): FitResult {
  const { rows, cols } = problem.x;
  const { classes } = problem;
  const wSize = cols * classes;
  const lambda = 1 / (options.c * rows);
  const start = new Float64Array(problem.parameters);
  if (options.warmStart) {
    start.set(options.warmStart.weights);
    start.set(options.warmStart.bias, wSize);
  }
  const result = minimizeLbfgs(
    (theta, grad) => problem.evaluate(theta, grad, lambda),
    start,
    options,
  );
  return {
    model: {
      weights: result.x.slice(0, wSize),
      bias: result.x.slice(wSize),
      features: cols,
      classes,
    },
    iterations: result.iterations,
    evaluations: result.evaluations,
    converged: result.converged,
    loss: result.value,
  };
}

/** The model with every parameter rounded to float32, as it is stored in the ONNX file. */
export function toFloat32(model: SoftmaxModel): SoftmaxModel {
  return {
    ...model,
    weights: Float64Array.from(Float32Array.from(model.weights)),
    bias: Float64Array.from(Float32Array.from(model.bias)),
  };
}

/** Softmax probabilities [rows x classes], row-major, in Float64. */
export function predictProbabilities(
  model: SoftmaxModel,
  x: CsrMatrix,
): Float64Array {
  const { classes } = model;
  const out = new Float64Array(x.rows * classes);
  for (let i = 0; i < x.rows; i++) {
    const row = out.subarray(i * classes, (i + 1) * classes);
    row.set(model.bias);
    for (let p = x.rowStart[i]; p < x.rowStart[i + 1]; p++) {
      const base = x.colIndex[p] * classes;
      const value = x.values[p];
      for (let k = 0; k < classes; k++)
        row[k] += value * model.weights[base + k];
    }
    let max = -Infinity;
    for (let k = 0; k < classes; k++) if (row[k] > max) max = row[k];
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      row[k] = Math.exp(row[k] - max);
      sum += row[k];
    }
    for (let k = 0; k < classes; k++) row[k] /= sum;
  }
  return out;
}
