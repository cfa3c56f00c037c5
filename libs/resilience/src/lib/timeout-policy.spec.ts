import { Deadline } from './deadline';
import { TimeoutError, isTimeoutError } from './resilience.errors';
import type { CallContext } from './resilience.types';
import { TimeoutPolicy } from './timeout-policy';
import { deferred, delay, track } from './resilience.test-helpers';

/** An operation that settles only when its signal fires, rejecting with the abort reason (like undici). */
const untilAborted = (ctx: CallContext) =>
  new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('TimeoutPolicy', () => {
  it('returns the result of a call that finishes in time and leaves no timer behind', async () => {
    const policy = new TimeoutPolicy({ perTryMs: 100 });
    let signal: AbortSignal | undefined;
    const call = track(
      policy.execute((ctx) => {
        signal = ctx.signal;
        return delay(99).then(() => 'done');
      }),
    );
    await jest.advanceTimersByTimeAsync(99);
    expect(call.value).toBe('done');
    expect(signal?.aborted).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('aborts the signal with a per-try TimeoutError and rejects when the try runs out', async () => {
    const policy = new TimeoutPolicy({ perTryMs: 100 });
    let signal: AbortSignal | undefined;
    const call = track(
      policy.execute((ctx) => {
        signal = ctx.signal;
        return untilAborted(ctx);
      }),
    );
    await jest.advanceTimersByTimeAsync(99);
    expect(call.settled).toBe(false);
    expect(signal?.aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(signal?.aborted).toBe(true);
    expect(isTimeoutError(call.error)).toBe(true);
    expect(call.error).toMatchObject({ code: 'DEADLINE_EXCEEDED', kind: 'per-try', timeoutMs: 100 });
    expect(signal?.reason).toBe(call.error);
  });

  it('rejects on time even when the work ignores its signal, and drops the late result', async () => {
    const policy = new TimeoutPolicy({ perTryMs: 50 });
    const work = deferred<string>();
    const call = track(policy.execute(() => work.promise));
    await jest.advanceTimersByTimeAsync(50);
    expect(call.error).toBeInstanceOf(TimeoutError);
    work.resolve('too late');
    await jest.advanceTimersByTimeAsync(0);
    expect(call.value).toBeUndefined();
  });

  it('fires at the deadline when it comes before the per-try timeout', async () => {
    const policy = new TimeoutPolicy({ perTryMs: 1_000 });
    const deadline = Deadline.after(300);
    await jest.advanceTimersByTimeAsync(100);
    const call = track(policy.execute(untilAborted, { deadline }));
    await jest.advanceTimersByTimeAsync(199);
    expect(call.settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(call.error).toMatchObject({ kind: 'deadline', timeoutMs: 200 });
  });

  it('bounds the try by the deadline alone when no per-try timeout is set', async () => {
    const policy = new TimeoutPolicy();
    const call = track(policy.execute(untilAborted, { deadline: Deadline.after(250) }));
    await jest.advanceTimersByTimeAsync(250);
    expect(call.error).toMatchObject({ kind: 'deadline', timeoutMs: 250 });
  });

  it('uses the per-try timeout when the deadline is further away', async () => {
    const policy = new TimeoutPolicy({ perTryMs: 100 });
    const call = track(policy.execute(untilAborted, { deadline: Deadline.after(1_000) }));
    await jest.advanceTimersByTimeAsync(100);
    expect(call.error).toMatchObject({ kind: 'per-try', timeoutMs: 100 });
  });

  it('fails at once, without calling the work, when the deadline has passed', async () => {
    const policy = new TimeoutPolicy({ perTryMs: 100 });
    const deadline = Deadline.after(10);
    await jest.advanceTimersByTimeAsync(10);
    const fn = jest.fn(() => Promise.resolve('x'));
    await expect(policy.execute(fn, { deadline })).rejects.toMatchObject({ kind: 'deadline', timeoutMs: 0 });
    expect(fn).not.toHaveBeenCalled();
  });

  it("aborts the work with the caller's reason when the caller's signal fires", async () => {
    const policy = new TimeoutPolicy({ perTryMs: 1_000 });
    const caller = new AbortController();
    let signal: AbortSignal | undefined;
    const call = track(
      policy.execute(
        (ctx) => {
          signal = ctx.signal;
          return new Promise(() => undefined); // never settles by itself
        },
        { signal: caller.signal },
      ),
    );
    const reason = new Error('client disconnected');
    caller.abort(reason);
    await jest.advanceTimersByTimeAsync(0);
    expect(signal?.reason).toBe(reason);
    expect(call.error).toBe(reason);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('does not start work for a caller that has already aborted', async () => {
    const policy = new TimeoutPolicy({ perTryMs: 100 });
    const caller = new AbortController();
    caller.abort(new Error('gone'));
    const fn = jest.fn(() => Promise.resolve(1));
    await expect(policy.execute(fn, { signal: caller.signal })).rejects.toThrow('gone');
    expect(fn).not.toHaveBeenCalled();
  });

  it("passes the work's own error through and turns a synchronous throw into a rejection", async () => {
    const policy = new TimeoutPolicy({ perTryMs: 100 });
    const err = new Error('refused');
    await expect(policy.execute(() => Promise.reject(err))).rejects.toBe(err);
    await expect(
      policy.execute(() => {
        throw err;
      }),
    ).rejects.toBe(err);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('arms no timer when neither a per-try timeout nor a deadline applies', async () => {
    const policy = new TimeoutPolicy();
    const work = deferred<number>();
    const call = track(policy.execute(() => work.promise));
    expect(jest.getTimerCount()).toBe(0);
    work.resolve(7);
    await call.done;
    expect(call.value).toBe(7);
  });

  it('gives each execution its own signal and passes deadline and attempt on', async () => {
    const policy = new TimeoutPolicy({ perTryMs: 100 });
    const deadline = Deadline.after(5_000);
    const a = await policy.execute((ctx) => Promise.resolve(ctx), { deadline, attempt: 2 });
    const b = await policy.execute((ctx) => Promise.resolve(ctx));
    expect(a.signal).not.toBe(b.signal);
    expect(a.deadline).toBe(deadline);
    expect(a.attempt).toBe(2);
  });

  it('rejects a non-positive perTryMs', () => {
    expect(() => new TimeoutPolicy({ perTryMs: 0 })).toThrow(RangeError);
  });
});
