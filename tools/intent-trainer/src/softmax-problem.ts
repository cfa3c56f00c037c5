import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CsrMatrix } from './sparse';
import { kernelModuleBytes } from './wasm-kernel';

const GENERATION = 0;
const DONE = 1;
const COMMAND = 2;
const WORKERS = 3;
const FORWARD = 1;
const BACKWARD = 2;
const STOP = 3;
const PAGE = 65536;

interface CscLayout {
  colStart: number;
  rowIndex: number;
  values: number;
}

/** Hands out 16-byte aligned byte ranges of the shared memory. */
class Arena {
  size = 0;
  take(bytes: number): number {
    const at = this.size;
    this.size += Math.ceil(Math.max(bytes, 1) / 16) * 16;
    return at;
  }
}

/** Splits [0, length) into `parts` contiguous ranges of about equal cumulative weight. */
function balancedRanges(
  cumulative: ArrayLike<number>,
  length: number,
  parts: number,
): number[] {
  const total = cumulative[length];
  const bounds = [0];
  let j = 0;
  for (let part = 1; part < parts; part++) {
    const target = (total * part) / parts;
    while (j < length && cumulative[j] < target) j++;
    bounds.push(Math.max(bounds[bounds.length - 1], j));
  }
  bounds.push(length);
  return bounds;
}

/** Column pointer counts of the rows [rowBegin, rowEnd) of x. */
function columnCounts(
  x: CsrMatrix,
  rowBegin: number,
  rowEnd: number,
): Int32Array {
  const counts = new Int32Array(x.cols + 1);
  for (let p = x.rowStart[rowBegin]; p < x.rowStart[rowEnd]; p++)
    counts[x.colIndex[p] + 1]++;
  for (let j = 0; j < x.cols; j++) counts[j + 1] += counts[j];
  return counts;
}

/** Writes rows [rowBegin, rowEnd) of x column-major (a column's entries in row order) at `at`. */
function writeCsc(
  buffer: ArrayBuffer | SharedArrayBuffer,
  at: CscLayout,
  x: CsrMatrix,
  rowBegin: number,
  rowEnd: number,
): void {
  const counts = columnCounts(x, rowBegin, rowEnd);
  const nnz = counts[x.cols];
  new Int32Array(buffer, at.colStart, x.cols + 1).set(counts);
  const rowIndex = new Int32Array(buffer, at.rowIndex, nnz);
  const values = new Float64Array(buffer, at.values, nnz);
  const next = counts.slice(0, x.cols);
  for (let i = rowBegin; i < rowEnd; i++) {
    for (let p = x.rowStart[i]; p < x.rowStart[i + 1]; p++) {
      const q = next[x.colIndex[p]]++;
      rowIndex[q] = i;
      values[q] = x.values[p];
    }
  }
}

/**
 * Cross-entropy + L2 objective of multinomial logistic regression over a fixed data set,
 * evaluated by worker threads on one shared WebAssembly memory (the sparse x dense loops run in
 * a small SIMD kernel, see wasm-kernel.ts). The forward pass is split by rows and the backward
 * pass by feature columns, so every number is summed by one thread in a fixed order: the result
 * does not depend on the number of workers (or cores).
 */
export class SoftmaxProblem {
  readonly parameters: number;
  private readonly control: Int32Array;
  private readonly theta: Float64Array;
  private readonly lambda: Float64Array;
  private readonly scores: Float64Array;
  private readonly rowLoss: Float64Array;
  private readonly gradient: Float64Array;
  private readonly squares: Float64Array;
  private readonly workers: Worker[] = [];
  private closed = false;
  private failure: Error | undefined;

  constructor(
    readonly x: CsrMatrix,
    readonly labels: Int32Array,
    readonly classes: number,
    workerCount = Math.max(1, Math.min(4, availableParallelism())),
  ) {
    const { rows, cols } = x;
    if (labels.length !== rows)
      throw new Error(`${rows} rows but ${labels.length} labels`);
    const K = classes;
    this.parameters = cols * K + K;
    const count = Math.max(1, Math.min(workerCount, rows));
    const rowBounds = balancedRanges(x.rowStart, rows, count);
    const allCounts = columnCounts(x, 0, rows);
    const colBounds = balancedRanges(allCounts, cols, count);
    const nnz = x.rowStart[rows];

    const arena = new Arena();
    const csc = (entries: number): CscLayout => ({
      colStart: arena.take((cols + 1) * 4),
      rowIndex: arena.take(entries * 4),
      values: arena.take(entries * 8),
    });
    const layout = {
      control: arena.take(16),
      lambda: arena.take(8),
      theta: arena.take(this.parameters * 8),
      scores: arena.take(rows * K * 8),
      rowLoss: arena.take(rows * 8),
      gradient: arena.take(cols * K * 8),
      squares: arena.take(cols * 8),
      labels: arena.take(rows * 4),
      backward: csc(nnz),
    };
    const forwards = Array.from({ length: count }, (_, w) =>
      csc(x.rowStart[rowBounds[w + 1]] - x.rowStart[rowBounds[w]]),
    );
    const pages = Math.ceil(arena.size / PAGE);
    const memory = new WebAssembly.Memory({
      initial: pages,
      maximum: pages,
      shared: true,
    });
    const kernel = new WebAssembly.Module(kernelModuleBytes(pages));
    const buffer = memory.buffer;

    this.control = new Int32Array(buffer, layout.control, 4);
    this.lambda = new Float64Array(buffer, layout.lambda, 1);
    this.theta = new Float64Array(buffer, layout.theta, this.parameters);
    this.scores = new Float64Array(buffer, layout.scores, rows * K);
    this.rowLoss = new Float64Array(buffer, layout.rowLoss, rows);
    this.gradient = new Float64Array(buffer, layout.gradient, cols * K);
    this.squares = new Float64Array(buffer, layout.squares, cols);
    new Int32Array(buffer, layout.labels, rows).set(labels);
    writeCsc(buffer, layout.backward, x, 0, rows);
    this.control[WORKERS] = count;

    for (let w = 0; w < count; w++) {
      writeCsc(buffer, forwards[w], x, rowBounds[w], rowBounds[w + 1]);
      const worker = new Worker(join(__dirname, 'softmax-worker.js'), {
        workerData: {
          memory,
          kernel,
          layout: { ...layout, forward: forwards[w] },
          classes: K,
          rows,
          features: cols,
          rowBegin: rowBounds[w],
          rowEnd: rowBounds[w + 1],
          colBegin: colBounds[w],
          colEnd: colBounds[w + 1],
        },
      });
      worker.on('error', (e) => {
        this.failure = e;
      });
      this.workers.push(worker);
    }
  }

  /**
   * f(theta) = mean cross-entropy + lambda/2 * ||W||^2 (bias unpenalised); the gradient is
   * written into `grad`. Parameters are W [features x classes] row-major, then b [classes].
   */
  evaluate(theta: Float64Array, grad: Float64Array, lambda: number): number {
    if (this.closed) throw new Error('SoftmaxProblem is closed');
    const { rows, cols } = this.x;
    const K = this.classes;
    this.theta.set(theta);
    this.lambda[0] = lambda;
    this.runPhase(FORWARD);
    this.runPhase(BACKWARD);
    const wSize = cols * K;
    grad.set(this.gradient);
    for (let k = 0; k < K; k++) grad[wSize + k] = 0;
    let loss = 0;
    for (let i = 0; i < rows; i++) {
      loss += this.rowLoss[i];
      for (let k = 0; k < K; k++) grad[wSize + k] += this.scores[i * K + k];
    }
    let penalty = 0;
    for (let j = 0; j < cols; j++) penalty += this.squares[j];
    return loss / rows + 0.5 * lambda * penalty;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exits = this.workers.map(
      (w) => new Promise((resolve) => w.once('exit', resolve)),
    );
    Atomics.store(this.control, COMMAND, STOP);
    Atomics.add(this.control, GENERATION, 1);
    Atomics.notify(this.control, GENERATION);
    await Promise.all(exits);
  }

  private runPhase(command: number): void {
    Atomics.store(this.control, DONE, 0);
    Atomics.store(this.control, COMMAND, command);
    Atomics.add(this.control, GENERATION, 1);
    Atomics.notify(this.control, GENERATION);
    const workers = this.control[WORKERS];
    for (;;) {
      const done = Atomics.load(this.control, DONE);
      if (done >= workers) return;
      // Bounded wait: a crashed worker never reports done, and must not hang training.
      if (Atomics.wait(this.control, DONE, done, 120_000) === 'timed-out') {
        throw (
          this.failure ??
          new Error('softmax worker did not finish a phase within 120 s')
        );
      }
    }
  }
}
