import fc from 'fast-check';
import { CircuitBreaker } from './circuit-breaker';
import { Deadline } from './deadline';
import { BrokenCircuitError, TimeoutError, isTimeoutError } from './resilience.errors';
import { RetryPolicy } from './retry-policy';
import { TimeoutPolicy } from './timeout-policy';
import type { CallContext, Operation, Policy } from './resilience.types';
import { wrap } from './resilience.wrap';
import { track } from './resilience.test-helpers';

/** An operation that settles only when its signal fires, rejecting with the abort reason (like undici). */
const hang = (ctx: CallContext) =>
  new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));

/** Records enter/exit around the inner call. */
function tracer(name: string, log: string[]): Policy {
  return {
    async execute<T>(fn: Operation<T>, ctx?: Partial<CallContext>): Promise<T> {
      log.push(`>${name}`);
      try {
        return await fn(ctx as CallContext);
      } finally {
        log.push(`<${name}`);
      }
    },
  };
}

const retryTimeouts = (e: unknown) => isTimeoutError(e) && e.kind === 'per-try';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('wrap', () => {
  it('nests policies outermost first', async () => {
    const log: string[] = [];
    const result = await wrap(tracer('a', log), tracer('b', log), tracer('c', log)).execute(() => {
      log.push('fn');
      return Promise.resolve(1);
    });
    expect(result).toBe(1);
    expect(log).toEqual(['>a', '>b', '>c', 'fn', '<c', '<b', '<a']);
  });

  it('with no policies runs the operation with a default context', async () => {
    const ctx = await wrap().execute((c) => Promise.resolve(c));
    expect(ctx.attempt).toBe(1);
    expect(ctx.signal.aborted).toBe(false);
    expect(ctx.deadline).toBeUndefined();
  });

  it('turns a synchronous throw into a rejection', async () => {
    const err = new Error('sync');
    const run = wrap().execute(() => {
      throw err;
    });
    await expect(run).rejects.toBe(err);
  });

  it('retry(breaker(timeout)): every attempt passes the breaker, which opens and stops the retries', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 60_000 });
    const retry = new RetryPolicy({ maxAttempts: 5, random: () => 0 });
    const attempts: number[] = [];
    const err = new Error('503');
    const call = track(
      wrap(retry, breaker, new TimeoutPolicy({ perTryMs: 100 })).execute(({ attempt }) => {
        attempts.push(attempt);
        return Promise.reject(err);
      }),
    );
    await jest.advanceTimersByTimeAsync(10);
    expect(attempts).toEqual([1, 2]);
    expect(breaker.state).toBe('open');
    // The third attempt was refused by the breaker; the default shouldRetry does not retry that.
    expect(call.error).toBeInstanceOf(BrokenCircuitError);
  });

  it('gives every attempt its own per-try signal and counts per-try timeouts as breaker failures', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 10 });
    const failures: unknown[] = [];
    breaker.onFailure((e) => failures.push(e.error));
    const retry = new RetryPolicy({ maxAttempts: 3, random: () => 0, shouldRetry: retryTimeouts });
    const signals: AbortSignal[] = [];
    const call = track(
      wrap(retry, breaker, new TimeoutPolicy({ perTryMs: 100 })).execute((ctx) => {
        signals.push(ctx.signal);
        return ctx.attempt < 3 ? hang(ctx) : Promise.resolve(`ok on ${ctx.attempt}`);
      }),
    );
    await jest.advanceTimersByTimeAsync(100);
    expect(signals[0].aborted).toBe(true);
    expect(signals[0].reason).toBeInstanceOf(TimeoutError);
    await jest.advanceTimersByTimeAsync(100);
    expect(call.value).toBe('ok on 3');
    expect(new Set(signals).size).toBe(3);
    expect(signals[2].aborted).toBe(false);
    expect(failures).toHaveLength(2);
    expect(failures.every(isTimeoutError)).toBe(true);
  });

  it('bounds the last attempt by the overall deadline', async () => {
    const retry = new RetryPolicy({ maxAttempts: 10, random: () => 0, shouldRetry: retryTimeouts });
    const starts: number[] = [];
    const t0 = performance.now();
    const call = track(
      wrap(retry, new TimeoutPolicy({ perTryMs: 100 })).execute(
        (ctx) => {
          starts.push(performance.now() - t0);
          return hang(ctx);
        },
        { deadline: Deadline.after(250) },
      ),
    );
    await jest.advanceTimersByTimeAsync(1_000);
    expect(starts).toEqual([0, 100, 200]);
    expect(call.error).toMatchObject({ code: 'DEADLINE_EXCEEDED', kind: 'deadline', timeoutMs: 50 });
  });

  it("stops everything when the caller's signal fires", async () => {
    const retry = new RetryPolicy({ maxAttempts: 5, random: () => 0 });
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const caller = new AbortController();
    let attemptSignal: AbortSignal | undefined;
    const call = track(
      wrap(retry, breaker, new TimeoutPolicy({ perTryMs: 1_000 })).execute(
        (ctx) => {
          attemptSignal = ctx.signal;
          return hang(ctx);
        },
        { signal: caller.signal },
      ),
    );
    await jest.advanceTimersByTimeAsync(10);
    const reason = new Error('client disconnected');
    caller.abort(reason);
    await jest.advanceTimersByTimeAsync(0);
    expect(call.error).toBe(reason);
    expect(attemptSignal?.reason).toBe(reason);
    // The caller giving up says nothing about the upstream.
    expect(breaker.state).toBe('closed');
  });

  it('property: a retried, timed-out pipeline always settles by the deadline', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.integer({ min: 0, max: 800 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 3_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        async (maxAttempts, perTryMs, durations, deadlineMs, r) => {
          jest.clearAllTimers();
          const pipeline = wrap(
            new RetryPolicy({ maxAttempts, baseDelayMs: 50, maxDelayMs: 400, random: () => r, shouldRetry: () => true }),
            new TimeoutPolicy({ perTryMs }),
          );
          const t0 = performance.now();
          const starts: number[] = [];
          const call = track(
            pipeline.execute(
              ({ attempt, signal }) => {
                starts.push(performance.now() - t0);
                const ms = durations[(attempt - 1) % durations.length];
                return new Promise<never>((_, reject) => {
                  const timer = setTimeout(() => reject(new Error('upstream 503')), ms);
                  signal.addEventListener('abort', () => {
                    clearTimeout(timer);
                    reject(signal.reason);
                  });
                });
              },
              { deadline: Deadline.after(deadlineMs) },
            ),
          );
          let settledAt = Infinity;
          void call.done.then(() => (settledAt = performance.now() - t0));
          await jest.advanceTimersByTimeAsync(deadlineMs + 1_000);
          expect(call.settled).toBe(true);
          expect(settledAt).toBeLessThanOrEqual(deadlineMs);
          expect(starts.length).toBeLessThanOrEqual(maxAttempts);
          expect(starts.every((s) => s < deadlineMs)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });
});
