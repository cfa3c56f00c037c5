import { AdmissionController, OverloadedError, isOverloadedError } from './admission.controller';

/** A controller on a clock the test moves by hand. */
function setup(options: Partial<ConstructorParameters<typeof AdmissionController>[0]> = {}) {
  let t = 1000;
  const c = new AdmissionController({ name: 'model', minInFlight: 4, maxInFlight: 100, windowMs: 1000, now: () => t, ...options });
  return {
    c,
    advance: (ms: number) => (t += ms),
    /** Admits n requests from `key` and returns their tickets. */
    admitN: (n: number, key = 'a', remainingMs = 2000) => Array.from({ length: n }, () => c.admit(key, remainingMs)),
    /** n requests admitted and answered one after the other. */
    complete: (n: number) => {
      for (let i = 0; i < n; i++) c.admit('a', 2000).release();
    },
  };
}

const shedReason = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (isOverloadedError(e)) return e.reason;
    throw e;
  }
  return undefined;
};

describe('AdmissionController', () => {
  it('admits everything below minInFlight', () => {
    const { c, admitN } = setup();
    admitN(4);
    expect(c.inFlight).toBe(4);
  });

  it('admits a burst at an idle service: with no completion yet, nothing has had time to be slow', () => {
    const { c, admitN } = setup();
    admitN(80);
    expect(c.inFlight).toBe(80);
    expect(c.snapshot().expectedMs).toBe(0);
  });

  it('sheds once nothing has completed for longer than the remaining deadline (a hung upstream)', () => {
    const { c, advance, admitN } = setup();
    admitN(10);
    advance(1500);
    expect(c.snapshot().expectedMs).toBe(1500);
    expect(shedReason(() => c.admit('a', 1000))).toBe('deadline');
    expect(shedReason(() => c.admit('a', 2000))).toBeUndefined();
    expect(c.snapshot().shed.deadline).toBe(1);
  });

  it("estimates a new request's time by Little's law and, while requests queue, sheds when it exceeds the remaining deadline", () => {
    const { c, advance, admitN } = setup();
    // Ten requests every 100 ms for a second, each answered after 100 ms: about 100 per second.
    for (let i = 0; i < 10; i++) {
      const batch = admitN(10);
      advance(100);
      batch.forEach((t) => t.release());
    }
    admitN(19);
    const { expectedMs, completionRate, inFlight, observedMs } = c.snapshot();
    expect(completionRate).toBeGreaterThanOrEqual(90);
    expect(completionRate).toBeLessThanOrEqual(112);
    expect(expectedMs).toBeCloseTo((inFlight + 1) / (completionRate / 1000), 6);
    expect(observedMs).toBeCloseTo(100, 6);
    expect(shedReason(() => c.admit('a', expectedMs - 1))).toBe('deadline');
    expect(shedReason(() => c.admit('a', expectedMs + 1))).toBeUndefined();
    expect(c.inFlight).toBe(20);
  });

  it('does not shed a burst after light traffic: a rate measured under light load is not what the service can do', () => {
    const { c, advance, admitN, complete } = setup();
    complete(3);
    advance(300);
    // By Little's law alone 90 requests at 3 per 300 ms would take 9 s; nothing queues yet.
    admitN(90);
    expect(c.snapshot().expectedMs).toBeGreaterThan(5_000);
    expect(c.inFlight).toBe(90);
    expect(c.snapshot().shed).toEqual({ deadline: 0, fair_share: 0, capacity: 0 });
    // Once the oldest of them has waited past the deadline's fairness share, the estimate is acted on.
    advance(1100);
    expect(shedReason(() => c.admit('a', 1000))).toBe('deadline');
  });

  it('measures a busy period shorter than the window over its own length, not diluted by idle time', () => {
    const { c, advance, admitN } = setup();
    advance(60_000);
    const first = admitN(4);
    advance(10);
    first.forEach((t) => t.release());
    // 4 completions in 10 ms since the burst began (floored to one bucket, 100 ms): 0.04 per ms.
    admitN(3);
    expect(c.snapshot().expectedMs).toBeCloseTo(4 / 0.04, 5);
    expect(shedReason(() => c.admit('a', 2000))).toBeUndefined();
  });

  it('forgets completions that fell out of the window, then counts the time since the last one', () => {
    const { c, advance, admitN, complete } = setup();
    complete(4);
    admitN(4);
    advance(500);
    expect(c.snapshot().completionRate).toBeGreaterThan(0);
    advance(2000);
    expect(c.snapshot().completionRate).toBe(0);
    expect(c.snapshot().expectedMs).toBe(2500);
    expect(shedReason(() => c.admit('a', 2000))).toBe('deadline');
  });

  it('never exceeds maxInFlight, whatever the estimate', () => {
    const { c, advance, admitN, complete } = setup({ maxInFlight: 6 });
    for (let i = 0; i < 10; i++) {
      advance(100);
      complete(6);
    }
    admitN(6);
    expect(shedReason(() => c.admit('b', 60_000))).toBe('capacity');
    expect(c.snapshot().shed.capacity).toBe(1);
  });

  it("sheds a key over its fair share first once the expected time passes fairnessAt of the deadline, and admits the others' requests", () => {
    const { c, advance, admitN } = setup({ fairnessAt: 0.5 });
    for (let i = 0; i < 10; i++) {
      const batch = admitN(10);
      advance(100);
      batch.forEach((t) => t.release());
    }
    admitN(14, 'flood');
    admitN(1, 'quiet');
    advance(50);
    const { expectedMs, observedMs } = c.snapshot();
    // A deadline the expected time passes half of, but not all of, while requests visibly queue.
    const deadline = (expectedMs + 2 * Math.min(expectedMs, observedMs)) / 2;
    expect(expectedMs).toBeLessThan(deadline);
    expect(Math.min(expectedMs, observedMs)).toBeGreaterThanOrEqual(deadline / 2);
    expect(shedReason(() => c.admit('flood', deadline))).toBe('fair_share');
    expect(shedReason(() => c.admit('quiet', deadline))).toBeUndefined();
    // Below fairnessAt of the deadline nobody is shed for fairness.
    expect(shedReason(() => c.admit('flood', expectedMs * 3))).toBeUndefined();
    expect(c.snapshot().shed.fair_share).toBe(1);
  });

  it('sheds a key under its share for the deadline only when even a fair queue would miss it (1/fairnessAt over)', () => {
    const { c, advance, admitN } = setup({ fairnessAt: 0.5 });
    for (let i = 0; i < 10; i++) {
      const batch = admitN(10);
      advance(100);
      batch.forEach((t) => t.release());
    }
    admitN(18, 'flood');
    admitN(1, 'quiet');
    const { expectedMs } = c.snapshot();
    // Past the deadline for the flood, within twice it for the quiet key.
    const deadline = expectedMs * 0.8;
    expect(shedReason(() => c.admit('flood', deadline))).toBe('deadline');
    expect(shedReason(() => c.admit('quiet', deadline))).toBeUndefined();
    expect(shedReason(() => c.admit('quiet', expectedMs * 0.4))).toBe('deadline');
  });

  it('does not apply fairness with a single key: one client may use the whole deadline', () => {
    const { c, advance, admitN, complete } = setup();
    for (let i = 0; i < 10; i++) {
      advance(100);
      complete(10);
    }
    admitN(15, 'only');
    expect(shedReason(() => c.admit('only', 200))).toBeUndefined();
  });

  it('releases once per ticket and forgets keys with nothing in flight', () => {
    const { c, admitN } = setup();
    const [a] = admitN(1, 'a');
    admitN(1, 'b');
    a.release();
    a.release();
    expect(c.inFlight).toBe(1);
    expect(c.snapshot().activeKeys).toBe(1);
  });

  it('sheds with a coded error carrying Retry-After and a public detail', () => {
    const { c, advance, admitN } = setup();
    admitN(4);
    advance(200);
    let err: unknown;
    try {
      c.admit('a', 100);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OverloadedError);
    const e = err as OverloadedError;
    expect(e.code).toBe('OVERLOADED');
    expect(e.retryAfterSeconds).toBe(1);
    expect(e.publicDetail).toMatch(/overloaded/);
    expect(e.message).toMatch(/expected 200 ms/);
  });

  it('refuses nonsensical settings', () => {
    expect(() => new AdmissionController({ name: 'm', minInFlight: 0 })).toThrow(RangeError);
    expect(() => new AdmissionController({ name: 'm', minInFlight: 10, maxInFlight: 5 })).toThrow(RangeError);
    expect(() => new AdmissionController({ name: 'm', windowMs: 0 })).toThrow(RangeError);
    expect(() => new AdmissionController({ name: 'm', fairnessAt: 1.5 })).toThrow(RangeError);
  });
});
