import {
  fitSoftmax,
  predictProbabilities,
  toFloat32,
} from './logistic-regression';
import { SoftmaxProblem } from './softmax-problem';
import { CsrBuilder, type CsrMatrix } from './sparse';

/** Deterministic pseudo-random numbers in [0, 1) (LCG), so the fixtures never change. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomProblem(
  rows: number,
  cols: number,
  classes: number,
  seed: number,
) {
  const rnd = lcg(seed);
  const builder = new CsrBuilder(cols);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    labels[i] = Math.floor(rnd() * classes);
    const used = new Set<number>();
    // A column reserved for the label (the last `classes` columns) makes the data separable.
    used.add(cols - classes + labels[i]);
    while (used.size < 4) used.add(Math.floor(rnd() * (cols - classes)));
    const c = [...used].sort((a, b) => a - b);
    builder.addRow(
      c,
      c.map(() => 0.25 + rnd()),
    );
  }
  return { x: builder.build(), labels };
}

function randomTheta(n: number, seed: number): Float64Array {
  const rnd = lcg(seed);
  return Float64Array.from({ length: n }, () => rnd() - 0.5);
}

describe('SoftmaxProblem', () => {
  const { x, labels } = randomProblem(40, 9, 4, 7);
  const problems: SoftmaxProblem[] = [];
  const make = (
    data: CsrMatrix,
    y: Int32Array,
    k: number,
    workers: number,
  ): SoftmaxProblem => {
    const p = new SoftmaxProblem(data, y, k, workers);
    problems.push(p);
    return p;
  };
  afterAll(() => Promise.all(problems.map((p) => p.close())));

  it('computes the loss and a gradient that matches finite differences', () => {
    const problem = make(x, labels, 4, 2);
    const theta = randomTheta(problem.parameters, 3);
    const grad = new Float64Array(problem.parameters);
    const lambda = 0.05;
    const f = problem.evaluate(theta, grad, lambda);

    // Loss from first principles.
    const probs = predictProbabilities(
      {
        weights: theta.slice(0, 36),
        bias: theta.slice(36),
        features: 9,
        classes: 4,
      },
      x,
    );
    let ce = 0;
    for (let i = 0; i < 40; i++) ce -= Math.log(probs[i * 4 + labels[i]]);
    const penalty = theta.slice(0, 36).reduce((s, v) => s + v * v, 0);
    expect(f).toBeCloseTo(ce / 40 + 0.5 * lambda * penalty, 12);

    const scratch = new Float64Array(problem.parameters);
    for (let j = 0; j < problem.parameters; j++) {
      const h = 1e-6;
      const plus = Float64Array.from(theta);
      const minus = Float64Array.from(theta);
      plus[j] += h;
      minus[j] -= h;
      const numeric =
        (problem.evaluate(plus, scratch, lambda) -
          problem.evaluate(minus, scratch, lambda)) /
        (2 * h);
      expect(grad[j]).toBeCloseTo(numeric, 7);
    }
  });

  it('gives bit-identical results for any number of workers', () => {
    const theta = randomTheta(9 * 4 + 4, 11);
    const results = [1, 2, 3].map((workers) => {
      const problem = make(x, labels, 4, workers);
      const grad = new Float64Array(problem.parameters);
      const f = problem.evaluate(theta, grad, 0.01);
      return { f, grad: Buffer.from(grad.buffer).toString('hex') };
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it('rejects labels that do not match the rows, and use after close', async () => {
    expect(() => new SoftmaxProblem(x, new Int32Array(3), 4, 1)).toThrow(
      '40 rows but 3 labels',
    );
    const problem = new SoftmaxProblem(x, labels, 4, 1);
    await problem.close();
    await problem.close();
    expect(() =>
      problem.evaluate(new Float64Array(40), new Float64Array(40), 0),
    ).toThrow('closed');
  });
});

describe('fitSoftmax', () => {
  it('learns separable data and warm starts from a previous solution', async () => {
    const { x, labels } = randomProblem(60, 8, 3, 5);
    const problem = new SoftmaxProblem(x, labels, 3, 2);
    try {
      const options = {
        memory: 5,
        maxIterations: 200,
        gradientTolerance: 1e-8,
        functionTolerance: 0,
      };
      const strong = fitSoftmax(problem, { ...options, c: 0.1 });
      const weak = fitSoftmax(problem, {
        ...options,
        c: 100,
        warmStart: strong.model,
      });
      expect(weak.loss).toBeLessThan(strong.loss);
      const p = predictProbabilities(toFloat32(weak.model), x);
      let correct = 0;
      for (let i = 0; i < 60; i++) {
        const row = Array.from(p.subarray(i * 3, i * 3 + 3));
        if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      }
      expect(correct).toBe(60);
      expect(weak.model.weights).toHaveLength(24);
      expect(weak.model.bias).toHaveLength(3);
    } finally {
      await problem.close();
    }
  });
});
