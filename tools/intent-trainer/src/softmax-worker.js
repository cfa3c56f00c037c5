// Worker half of SoftmaxProblem (softmax-problem.ts). Plain JavaScript so worker_threads can load
// it unchanged under ts-node and Jest. Every value a worker writes is computed by that worker
// alone, in an order that does not depend on how many workers there are: results are identical
// for any worker count.
'use strict';
const { workerData } = require('node:worker_threads');

const {
  memory,
  kernel,
  layout: at,
  classes: K,
  rows: n,
  features,
  rowBegin,
  rowEnd,
  colBegin,
  colEnd,
} = workerData;
const { forward: sparseForward, backward: sparseBackward } =
  new WebAssembly.Instance(kernel, {
    env: { memory },
  }).exports;
const buffer = memory.buffer;
const control = new Int32Array(buffer, at.control, 4);
const theta = new Float64Array(buffer, at.theta, features * K + K);
const lambda = new Float64Array(buffer, at.lambda, 1);
const scores = new Float64Array(buffer, at.scores, n * K);
const rowLoss = new Float64Array(buffer, at.rowLoss, n);
const gradient = new Float64Array(buffer, at.gradient, features * K);
const labels = new Int32Array(buffer, at.labels, n);
const squares = new Float64Array(buffer, at.squares, features);
const biasOffset = features * K;

const GENERATION = 0;
const DONE = 1;
const COMMAND = 2;
const WORKERS = 3;
const FORWARD = 1;
const BACKWARD = 2;
const STOP = 3;

function forward() {
  for (let i = rowBegin; i < rowEnd; i++) {
    for (let k = 0; k < K; k++) scores[i * K + k] = theta[biasOffset + k];
  }
  // scores[row] += value * W[column], over this worker's rows, columns in ascending order.
  sparseForward(
    0,
    features,
    at.forward.colStart,
    at.forward.rowIndex,
    at.forward.values,
    at.theta,
    at.scores,
    K,
  );
  // Turn each row's scores into the residual (softmax - onehot) / n and record its loss.
  for (let i = rowBegin; i < rowEnd; i++) {
    const z = i * K;
    let max = -Infinity;
    for (let k = 0; k < K; k++) if (scores[z + k] > max) max = scores[z + k];
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp(scores[z + k] - max);
      scores[z + k] = e;
      sum += e;
    }
    const y = labels[i];
    rowLoss[i] = Math.log(sum) - Math.log(scores[z + y]);
    for (let k = 0; k < K; k++) scores[z + k] = scores[z + k] / sum / n;
    scores[z + y] -= 1 / n;
  }
}

function backward() {
  gradient.fill(0, colBegin * K, colEnd * K);
  // gradient[column] += value * residual[row], over all rows of this worker's columns.
  sparseBackward(
    colBegin,
    colEnd,
    at.backward.colStart,
    at.backward.rowIndex,
    at.backward.values,
    at.scores,
    at.gradient,
    K,
  );
  // Add the L2 term; each feature's sum of squared weights goes to the main thread's penalty.
  const l = lambda[0];
  for (let j = colBegin; j < colEnd; j++) {
    let sum = 0;
    for (let w = j * K; w < (j + 1) * K; w++) {
      gradient[w] += l * theta[w];
      sum += theta[w] * theta[w];
    }
    squares[j] = sum;
  }
}

let seen = 0;
for (;;) {
  // Wait for a generation this worker has not run. A wake-up alone is not one: the main thread's
  // notify for generation g can arrive after this worker has already run g and is waiting again
  // (it stores g, we run g, we wait, then its notify lands), and running g twice would count this
  // worker twice in DONE and let the main thread move on while another worker is mid-phase.
  while (Atomics.load(control, GENERATION) === seen) Atomics.wait(control, GENERATION, seen);
  seen = Atomics.load(control, GENERATION);
  const command = Atomics.load(control, COMMAND);
  if (command === STOP) break;
  if (command === FORWARD) forward();
  else if (command === BACKWARD) backward();
  if (Atomics.add(control, DONE, 1) + 1 === Atomics.load(control, WORKERS))
    Atomics.notify(control, DONE);
}
