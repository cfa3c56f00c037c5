/** Objective value and gradient at x; the gradient is written into `grad`. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  /** Correction pairs kept. */
  memory: number;
  maxIterations: number;
  /** Stop when ||grad||_inf <= gradientTolerance * max(1, |f|). */
  gradientTolerance: number;
  /** Stop when f decreased by less than this (relative) over the last 5 iterations. */
  functionTolerance: number;
  /** Called after every iteration with its number (from 1) and the objective value. */
  onIteration?: (iteration: number, value: number) => void;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
}

const C1 = 1e-4;
const C2 = 0.9;

/**
 * Limited-memory BFGS with a strong-Wolfe line search (bracketing + bisection zoom). Every step
 * is plain Float64 arithmetic in a fixed order, so the same start and objective give the same
 * iterates bit for bit. The two-loop recursion fuses each update with the next dot product, so
 * it reads the n-vectors about 2m times per iteration instead of 4m: with a million parameters
 * these passes cost as much as the objective.
 */
export function minimizeLbfgs(
  objective: Objective,
  x0: Float64Array,
  options: LbfgsOptions,
): LbfgsResult {
  const n = x0.length;
  const m = options.memory;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let f = objective(x, g);
  let evaluations = 1;
  // Ring buffer of correction pairs; slot (first + k) % m holds the k-th oldest.
  const s = Array.from({ length: m }, () => new Float64Array(n));
  const y = Array.from({ length: m }, () => new Float64Array(n));
  const rho = new Float64Array(m);
  const alpha = new Float64Array(m);
  let first = 0;
  let stored = 0;
  const slot = (k: number): number => (first + k) % m;
  const d = new Float64Array(n);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  const history: number[] = [f];

  const gradientSmall = (): boolean =>
    normInf(g) <= options.gradientTolerance * Math.max(1, Math.abs(f));
  let iterations = 0;
  let converged = gradientSmall();
  while (!converged && iterations < options.maxIterations) {
    twoLoop(g, d, s, y, rho, alpha, stored, slot);
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Not a descent direction (curvature information went stale): restart from steepest descent.
      stored = 0;
      twoLoop(g, d, s, y, rho, alpha, stored, slot);
      slope = dot(g, d);
    }

    const search = lineSearch(objective, x, f, d, slope, xNew, gNew);
    evaluations += search.evaluations;
    if (search.step === 0) break;
    iterations++;

    const target = stored < m ? slot(stored) : first;
    const sk = s[target];
    const yk = y[target];
    let sy = 0;
    let yy = 0;
    for (let i = 0; i < n; i++) {
      const si = xNew[i] - x[i];
      const yi = gNew[i] - g[i];
      sk[i] = si;
      yk[i] = yi;
      sy += si * yi;
      yy += yi * yi;
    }
    if (sy > 1e-12 * yy) {
      rho[target] = 1 / sy;
      if (stored < m) stored++;
      else first = (first + 1) % m;
    } else if (stored === m) {
      // The oldest pair was overwritten by a rejected one: drop it.
      first = (first + 1) % m;
      stored--;
    }
    x.set(xNew);
    g.set(gNew);
    f = search.value;
    history.push(f);
    options.onIteration?.(iterations, f);
    const past = history.length > 5 ? history[history.length - 6] : Infinity;
    converged =
      gradientSmall() ||
      (past - f) / Math.max(1, Math.abs(f)) < options.functionTolerance;
  }
  return { x, value: f, iterations, evaluations, converged };
}

/**
 * d = -H g by the two-loop recursion over the `stored` pairs (oldest first by `slot`), with
 * H0 = (s'y / y'y) I from the newest pair, or a unit-length steepest-descent step with none.
 */
function twoLoop(
  g: Float64Array,
  d: Float64Array,
  s: Float64Array[],
  y: Float64Array[],
  rho: Float64Array,
  alpha: Float64Array,
  stored: number,
  slot: (k: number) => number,
): void {
  const n = g.length;
  if (stored === 0) {
    const scale = 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let i = 0; i < n; i++) d[i] = -g[i] * scale;
    return;
  }
  // First loop, newest to oldest: alpha_k = rho_k s_k'q; q -= alpha_k y_k.
  // Each pass applies one update and accumulates the next dot product.
  const newest = slot(stored - 1);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    d[i] = -g[i];
    acc += s[newest][i] * d[i];
  }
  const gamma = 1 / (rho[newest] * dotSelf(y[newest]));
  for (let k = stored - 1; k >= 0; k--) {
    const c = slot(k);
    alpha[c] = rho[c] * acc;
    const a = alpha[c];
    const yc = y[c];
    acc = 0;
    if (k > 0) {
      const sNext = s[slot(k - 1)];
      for (let i = 0; i < n; i++) {
        d[i] -= a * yc[i];
        acc += sNext[i] * d[i];
      }
    } else {
      // Last update, scaling by gamma, and the first dot of the second loop in one pass.
      const yFirst = y[slot(0)];
      for (let i = 0; i < n; i++) {
        d[i] = (d[i] - a * yc[i]) * gamma;
        acc += yFirst[i] * d[i];
      }
    }
  }
  // Second loop, oldest to newest: beta_k = rho_k y_k'r; r += (alpha_k - beta_k) s_k.
  for (let k = 0; k < stored; k++) {
    const c = slot(k);
    const coef = alpha[c] - rho[c] * acc;
    const sc = s[c];
    acc = 0;
    if (k + 1 < stored) {
      const yNext = y[slot(k + 1)];
      for (let i = 0; i < n; i++) {
        d[i] += coef * sc[i];
        acc += yNext[i] * d[i];
      }
    } else {
      for (let i = 0; i < n; i++) d[i] += coef * sc[i];
    }
  }
}

interface LineSearchResult {
  step: number;
  value: number;
  evaluations: number;
}

/** Strong-Wolfe line search (Nocedal & Wright, Alg. 3.5/3.6, with bisection in zoom). */
function lineSearch(
  objective: Objective,
  x: Float64Array,
  f0: number,
  d: Float64Array,
  slope0: number,
  xOut: Float64Array,
  gOut: Float64Array,
): LineSearchResult {
  let evaluations = 0;
  const evaluate = (t: number): { value: number; slope: number } => {
    for (let i = 0; i < x.length; i++) xOut[i] = x[i] + t * d[i];
    const value = objective(xOut, gOut);
    evaluations++;
    return { value, slope: dot(gOut, d) };
  };
  let lo = 0;
  let fLo = f0;
  let t = 1;
  let previous = { t: 0, value: f0 };
  for (let k = 0; k < 20; k++) {
    const at = evaluate(t);
    if (
      !Number.isFinite(at.value) ||
      at.value > f0 + C1 * t * slope0 ||
      (k > 0 && at.value >= previous.value)
    ) {
      return zoom(previous.t, previous.value, t);
    }
    if (Math.abs(at.slope) <= -C2 * slope0)
      return { step: t, value: at.value, evaluations };
    if (at.slope >= 0) return zoom(t, at.value, previous.t);
    previous = { t, value: at.value };
    lo = t;
    fLo = at.value;
    t *= 2;
  }
  // Never reached the Wolfe conditions but decreased f: accept the last point.
  evaluate(lo);
  return { step: lo, value: fLo, evaluations };

  function zoom(tLo: number, valueLo: number, tHi: number): LineSearchResult {
    let best = { t: tLo, value: valueLo };
    for (let k = 0; k < 30; k++) {
      const mid = 0.5 * (tLo + tHi);
      const at = evaluate(mid);
      if (
        !Number.isFinite(at.value) ||
        at.value > f0 + C1 * mid * slope0 ||
        at.value >= valueLo
      ) {
        tHi = mid;
      } else {
        if (Math.abs(at.slope) <= -C2 * slope0)
          return { step: mid, value: at.value, evaluations };
        if (at.slope * (tHi - tLo) >= 0) tHi = tLo;
        tLo = mid;
        valueLo = at.value;
        best = { t: mid, value: at.value };
      }
    }
    // Accept the best sufficient-decrease point found (0 means no progress possible).
    if (best.t > 0) evaluate(best.t);
    return { step: best.t, value: best.value, evaluations };
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function dotSelf(v: Float64Array): number {
  return dot(v, v);
}

function normInf(v: Float64Array): number {
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]));
  return max;
}
