import fc from 'fast-check';
import { Deadline } from './deadline';
import { BrokenCircuitError } from './resilience.errors';
import { RetryBudget } from './retry-budget';
import { RetryPolicy, backoffDelay, retryAfterOf, type RetryEvent, type RetryOptions } from './retry-policy';
import { track } from './resilience.test-helpers';

class ConnectError extends Error {
  readonly code = 'ECONNREFUSED';
}
class UpstreamBusy extends Error {
  constructor(readonly retryAfterSeconds?: number, readonly retryAfterMs?: number) {
    super('503');
  }
}

/** An operation failing with `errors` in turn (the last one repeats), or succeeding with 'ok' when they run out. */
function failing(...errors: unknown[]) {
  const starts: number[] = [];
  const fn = jest.fn((): Promise<string> => {
    starts.push(performance.now());
    const n = starts.length;
    return n <= errors.length ? Promise.reject(errors[n - 1]) : Promise.resolve('ok');
  });
  return { fn, starts };
}

const always = (error: unknown) => {
  const starts: number[] = [];
  const fn = jest.fn(() => {
    starts.push(performance.now());
    return Promise.reject(error);
  });
  return { fn, starts };
};

function policyWithLog(options: RetryOptions) {
  const policy = new RetryPolicy(options);
  const retries: RetryEvent[] = [];
  policy.onRetry((e) => retries.push(e));
  return { policy, retries };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('RetryPolicy', () => {
  it('returns the first success and numbers the attempts', async () => {
    const seen: number[] = [];
    const policy = new RetryPolicy({ maxAttempts: 5, random: () => 0 });
    let n = 0;
    const call = track(
      policy.execute(({ attempt }) => {
        seen.push(attempt);
        return ++n < 3 ? Promise.reject(new ConnectError()) : Promise.resolve('third time');
      }),
    );
    await jest.advanceTimersByTimeAsync(10);
    expect(call.value).toBe('third time');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('stops after maxAttempts and throws the last error', async () => {
    const errors = [new Error('e1'), new Error('e2'), new Error('e3')];
    const { fn } = failing(...errors, new Error('never reached'));
    const { policy, retries } = policyWithLog({ maxAttempts: 3, random: () => 0 });
    const call = track(policy.execute(fn));
    await jest.advanceTimersByTimeAsync(10_000);
    expect(call.error).toBe(errors[2]);
    expect(fn).toHaveBeenCalledTimes(3);
    expect(retries.map((r) => [r.attempt, r.error])).toEqual([
      [1, errors[0]],
      [2, errors[1]],
    ]);
  });

  it('does not retry with maxAttempts 1', async () => {
    const { fn } = always(new ConnectError());
    await expect(new RetryPolicy({ maxAttempts: 1 }).execute(fn)).rejects.toBeInstanceOf(ConnectError);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('backs off exponentially up to the cap (random fixed at 0.5)', async () => {
    const { fn, starts } = always(new ConnectError());
    const { policy, retries } = policyWithLog({ maxAttempts: 7, baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0.5 });
    const t0 = performance.now();
    const call = track(policy.execute(fn));
    await jest.advanceTimersByTimeAsync(60_000);
    expect(call.error).toBeInstanceOf(ConnectError);
    // ceilings 100, 200, 400, 800, 1000 (capped), 1000 — times 0.5
    expect(retries.map((r) => r.delayMs)).toEqual([50, 100, 200, 400, 500, 500]);
    expect(starts.map((s) => s - t0)).toEqual([0, 50, 150, 350, 750, 1_250, 1_750]);
  });

  it('does not start the retry before its delay has elapsed', async () => {
    const { fn } = always(new ConnectError());
    const policy = new RetryPolicy({ maxAttempts: 2, baseDelayMs: 400, random: () => 0.75 });
    const call = track(policy.execute(fn));
    await jest.advanceTimersByTimeAsync(299);
    expect(fn).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(2);
    await call.done;
  });

  it('applies full jitter: random 0 retries at once, random near 1 waits almost the whole ceiling', async () => {
    const zero = policyWithLog({ maxAttempts: 2, baseDelayMs: 100, random: () => 0 });
    const first = track(zero.policy.execute(always(new ConnectError()).fn));
    await jest.advanceTimersByTimeAsync(0);
    expect(first.error).toBeInstanceOf(ConnectError);
    expect(zero.retries[0].delayMs).toBe(0);

    const high = policyWithLog({ maxAttempts: 2, baseDelayMs: 100, random: () => 0.999 });
    const call = track(high.policy.execute(always(new ConnectError()).fn));
    await jest.advanceTimersByTimeAsync(100);
    await call.done;
    expect(high.retries[0].delayMs).toBe(99);
  });

  it('asks shouldRetry with the error and the failed attempt number', async () => {
    const busy = new UpstreamBusy(undefined, 10);
    const notFound = new Error('404');
    const { fn } = failing(new ConnectError(), busy, notFound);
    const asked: [string, number][] = [];
    const policy = new RetryPolicy({
      maxAttempts: 10,
      random: () => 0,
      shouldRetry: (e, attempt) => {
        asked.push([(e as Error).message, attempt]);
        return e instanceof ConnectError || e instanceof UpstreamBusy;
      },
    });
    const call = track(policy.execute(fn));
    await jest.advanceTimersByTimeAsync(100);
    expect(call.error).toBe(notFound);
    expect(asked).toEqual([
      ['', 1],
      ['503', 2],
      ['404', 3],
    ]);
  });

  it('does not retry an open breaker by default', async () => {
    const { fn } = always(new BrokenCircuitError('m', 5, 'open'));
    await expect(new RetryPolicy({ maxAttempts: 3 }).execute(fn)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('waits exactly what Retry-After asks for instead of the backoff', async () => {
    const { fn, starts } = failing(new UpstreamBusy(2));
    const { policy, retries } = policyWithLog({ maxAttempts: 2, random: () => 0 });
    const t0 = performance.now();
    const call = track(policy.execute(fn));
    await jest.advanceTimersByTimeAsync(1_999);
    expect(fn).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(call.value).toBe('ok');
    expect(starts[1] - t0).toBe(2_000);
    expect(retries[0].delayMs).toBe(2_000);
  });

  it('prefers retryAfterMs to retryAfterSeconds', async () => {
    const { fn } = failing(new UpstreamBusy(5, 250));
    const { policy, retries } = policyWithLog({ maxAttempts: 2 });
    const call = track(policy.execute(fn));
    await jest.advanceTimersByTimeAsync(250);
    expect(call.value).toBe('ok');
    expect(retries[0].delayMs).toBe(250);
  });

  it('does not retry when the upstream asks to wait longer than maxRetryAfterMs', async () => {
    const busy = new UpstreamBusy(60);
    const { fn } = failing(busy);
    await expect(new RetryPolicy({ maxAttempts: 3, maxRetryAfterMs: 30_000 }).execute(fn)).rejects.toBe(busy);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('fails now with the last error when the backoff would cross the deadline', async () => {
    const { fn, starts } = always(new ConnectError());
    const { policy, retries } = policyWithLog({ maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 100, random: () => 0.9 });
    const deadline = Deadline.after(200);
    const t0 = performance.now();
    const call = track(policy.execute(fn, { deadline }));
    await jest.advanceTimersByTimeAsync(1_000);
    // Retries at 90 and 180; at 180 another 90 ms would reach 270 > 200, so it gives up at once.
    expect(starts.map((s) => s - t0)).toEqual([0, 90, 180]);
    expect(retries).toHaveLength(2);
    expect(call.error).toBeInstanceOf(ConnectError);
  });

  it('does not honour a Retry-After that reaches past the deadline', async () => {
    const busy = new UpstreamBusy(1);
    const { fn } = failing(busy);
    const call = track(new RetryPolicy({ maxAttempts: 3 }).execute(fn, { deadline: Deadline.after(1_000) }));
    await jest.advanceTimersByTimeAsync(0);
    expect(call.error).toBe(busy);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('refuses retries the budget cannot pay for and rethrows the last error', async () => {
    const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0 });
    const policy = new RetryPolicy({ maxAttempts: 5, random: () => 0, budget });
    const exhausted: number[] = [];
    policy.onBudgetExhausted((e) => exhausted.push(e.attempt));
    const err = new ConnectError();
    const { fn } = always(err);
    // One call earns half a retry: not enough.
    await expect(policy.execute(fn)).rejects.toBe(err);
    expect(fn).toHaveBeenCalledTimes(1);
    // The second call brings the budget to one retry, spent at once; the next retry is refused.
    const second = track(policy.execute(fn));
    await jest.advanceTimersByTimeAsync(0);
    expect(second.error).toBe(err);
    expect(fn).toHaveBeenCalledTimes(3);
    expect(exhausted).toEqual([1, 2]);
  });

  it('does not spend budget on retries it would not make', async () => {
    const budget = new RetryBudget({ ratio: 1, minPerSecond: 0 });
    const policy = new RetryPolicy({ maxAttempts: 2, budget, shouldRetry: () => false });
    await policy.execute(always(new Error('x')).fn).catch(() => undefined);
    expect(budget.available()).toBe(1);
  });

  it("stops backing off when the caller aborts and rejects with the caller's reason", async () => {
    const { fn } = always(new ConnectError());
    const policy = new RetryPolicy({ maxAttempts: 5, baseDelayMs: 1_000, random: () => 0.5 });
    const caller = new AbortController();
    const call = track(policy.execute(fn, { signal: caller.signal }));
    await jest.advanceTimersByTimeAsync(100);
    const reason = new Error('client gone');
    caller.abort(reason);
    await jest.advanceTimersByTimeAsync(0);
    expect(call.error).toBe(reason);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('does not retry once the caller has aborted', async () => {
    const caller = new AbortController();
    const err = new ConnectError();
    const fn = jest.fn(() => {
      caller.abort(new Error('gone'));
      return Promise.reject(err);
    });
    await expect(new RetryPolicy({ maxAttempts: 3 }).execute(fn, { signal: caller.signal })).rejects.toBe(err);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('keeps retrying when a listener throws', async () => {
    const policy = new RetryPolicy({ maxAttempts: 2, random: () => 0 });
    policy.onRetry(() => {
      throw new Error('listener bug');
    });
    const { fn } = failing(new ConnectError());
    const call = track(policy.execute(fn));
    await jest.advanceTimersByTimeAsync(0);
    expect(call.value).toBe('ok');
  });

  it.each<[string, RetryOptions]>([
    ['maxAttempts', { maxAttempts: 0 }],
    ['maxAttempts', { maxAttempts: 2.5 }],
    ['baseDelayMs', { baseDelayMs: -1 }],
    ['maxDelayMs', { maxDelayMs: NaN }],
    ['maxRetryAfterMs', { maxRetryAfterMs: 0 }],
  ])('rejects an invalid %s', (name, options) => {
    expect(() => new RetryPolicy(options)).toThrow(new RegExp(`^${name} must`));
  });
});

describe('retryAfterOf', () => {
  it('reads retryAfterMs, then retryAfterSeconds, and ignores unusable values', () => {
    expect(retryAfterOf({ retryAfterMs: 20, retryAfterSeconds: 9 })).toBe(20);
    expect(retryAfterOf({ retryAfterSeconds: 1.5 })).toBe(1_500);
    expect(retryAfterOf({ retryAfterMs: 0.2 })).toBe(1);
    expect(retryAfterOf({ retryAfterMs: -1, retryAfterSeconds: 0 })).toBe(0);
    expect(retryAfterOf({ retryAfterMs: Infinity })).toBeUndefined();
    expect(retryAfterOf({ retryAfterSeconds: '3' })).toBeUndefined();
    expect(retryAfterOf(new Error('x'))).toBeUndefined();
    expect(retryAfterOf('503')).toBeUndefined();
    expect(retryAfterOf(null)).toBeUndefined();
  });
});

describe('backoff properties', () => {
  const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

  it('full-jitter delays always lie in [0, min(cap, base * 2^retry)]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.double({ min: 0, max: 10_000, noNaN: true }),
        fc.double({ min: 0, max: 60_000, noNaN: true }),
        unit,
        (retry, base, cap, r) => {
          const d = backoffDelay(retry, base, cap, () => r);
          return Number.isInteger(d) && d >= 0 && d <= cap && d <= base * 2 ** retry;
        },
      ),
    );
  });

  it('never starts an attempt at or after the deadline and settles by it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 2_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.array(unit, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.array(fc.option(fc.integer({ min: 0, max: 3_000 })), { minLength: 1, maxLength: 12 }),
        async (maxAttempts, baseDelayMs, maxDelayMs, randoms, deadlineMs, retryAfters) => {
          jest.clearAllTimers();
          let i = 0;
          const policy = new RetryPolicy({
            maxAttempts,
            baseDelayMs,
            maxDelayMs,
            random: () => randoms[i++ % randoms.length],
          });
          const retries: number[] = [];
          policy.onRetry((e) => {
            retries.push(e.delayMs);
          });
          const starts: number[] = [];
          const t0 = performance.now();
          const deadline = Deadline.after(deadlineMs);
          const call = track(
            policy.execute(({ attempt }) => {
              starts.push(performance.now() - t0);
              const after = retryAfters[(attempt - 1) % retryAfters.length];
              return Promise.reject(new UpstreamBusy(undefined, after ?? undefined));
            }, { deadline }),
          );
          await jest.advanceTimersByTimeAsync(deadlineMs + 1);
          const settledAt = performance.now() - t0;
          expect(call.settled).toBe(true);
          expect(starts.length).toBeLessThanOrEqual(maxAttempts);
          expect(starts.every((s) => s < deadlineMs)).toBe(true);
          expect(retries.every((d) => d >= 0 && d < deadlineMs)).toBe(true);
          expect(settledAt).toBeLessThanOrEqual(deadlineMs + 1);
          expect(jest.getTimerCount()).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});
