import { minimizeLbfgs, type Objective } from './lbfgs';

const options = {
  memory: 5,
  maxIterations: 500,
  gradientTolerance: 1e-10,
  functionTolerance: 0,
};

/** Rosenbrock in n dimensions: minimum 0 at (1, ..., 1), badly conditioned. */
const rosenbrock: Objective = (x, g) => {
  g.fill(0);
  let f = 0;
  for (let i = 0; i + 1 < x.length; i++) {
    const a = x[i + 1] - x[i] * x[i];
    const b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * x[i] * a - 2 * b;
    g[i + 1] += 200 * a;
  }
  return f;
};

describe('minimizeLbfgs', () => {
  it('finds the minimum of a convex quadratic', () => {
    const scales = [1, 10, 100, 0.5];
    const result = minimizeLbfgs(
      (x, g) => {
        let f = 0;
        x.forEach((v, i) => {
          f += 0.5 * scales[i] * (v - i) ** 2;
          g[i] = scales[i] * (v - i);
        });
        return f;
      },
      new Float64Array(4),
      options,
    );
    expect(result.converged).toBe(true);
    Array.from(result.x).forEach((v, i) => expect(v).toBeCloseTo(i, 6));
  });

  it('solves the Rosenbrock valley', () => {
    const result = minimizeLbfgs(
      rosenbrock,
      new Float64Array([-1.2, 1, -1.2, 1]),
      options,
    );
    expect(result.value).toBeLessThan(1e-12);
    Array.from(result.x).forEach((v) => expect(v).toBeCloseTo(1, 5));
  });

  it('returns bit-identical iterates for the same start', () => {
    const start = new Float64Array([-1.2, 1, 0.3, -0.7, 2]);
    const a = minimizeLbfgs(rosenbrock, start, {
      ...options,
      maxIterations: 25,
    });
    const b = minimizeLbfgs(rosenbrock, start, {
      ...options,
      maxIterations: 25,
    });
    expect(Buffer.from(a.x.buffer).equals(Buffer.from(b.x.buffer))).toBe(true);
    expect(a.iterations).toBe(25);
    expect(a.converged).toBe(false);
  });

  it('stops at once when the start is already optimal', () => {
    const result = minimizeLbfgs(
      (x, g) => {
        g[0] = 2 * x[0];
        return x[0] * x[0];
      },
      new Float64Array([0]),
      options,
    );
    expect(result).toMatchObject({
      iterations: 0,
      evaluations: 1,
      converged: true,
      value: 0,
    });
  });

  it('stops when the function no longer decreases enough', () => {
    const result = minimizeLbfgs(rosenbrock, new Float64Array([-1.2, 1]), {
      ...options,
      gradientTolerance: 0,
      functionTolerance: 1e-3,
    });
    expect(result.converged).toBe(true);
    expect(result.iterations).toBeLessThan(100);
  });
});
