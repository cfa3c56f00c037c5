import { CircuitBreaker, type CircuitBreakerOptions, type StateChangeEvent } from './circuit-breaker';
import { Deadline } from './deadline';
import { BrokenCircuitError, TimeoutError, isBrokenCircuitError } from './resilience.errors';
import type { Clock } from './resilience.types';
import { deferred, delay, track } from './resilience.test-helpers';

class ClientError extends Error {}

const ok = () => Promise.resolve('ok');
const boom = () => Promise.reject(new Error('boom'));

/** Runs `n` calls of `fn` one after the other, swallowing their errors. */
async function run(breaker: CircuitBreaker, n: number, fn: () => Promise<unknown>) {
  for (let i = 0; i < n; i++) await breaker.execute(fn).catch(() => undefined);
}

function breakerWithLog(options: CircuitBreakerOptions = {}) {
  const breaker = new CircuitBreaker({ name: 'model-a', ...options });
  const transitions: string[] = [];
  breaker.onStateChange((e) => transitions.push(`${e.from}->${e.to}`));
  return { breaker, transitions };
}

/** Opens a fresh breaker (count rule) and returns it with its log. */
async function openBreaker(options: CircuitBreakerOptions = {}) {
  const made = breakerWithLog({ failureThreshold: 2, openMs: 10_000, ...options });
  await run(made.breaker, options.failureThreshold ?? 2, boom);
  expect(made.breaker.state).toBe('open');
  return made;
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('CircuitBreaker closed state', () => {
  it('passes results and errors through untouched while closed', async () => {
    const breaker = new CircuitBreaker();
    const err = new Error('upstream down');
    await expect(breaker.execute(() => Promise.resolve(42))).resolves.toBe(42);
    await expect(breaker.execute(() => Promise.reject(err))).rejects.toBe(err);
    expect(breaker.state).toBe('closed');
  });

  it('hands the call context to the operation', async () => {
    const breaker = new CircuitBreaker();
    const controller = new AbortController();
    const seen = await breaker.execute((ctx) => Promise.resolve(ctx), { signal: controller.signal, attempt: 3 });
    expect(seen.signal).toBe(controller.signal);
    expect(seen.attempt).toBe(3);
  });

  it('opens when failures in the window reach failureThreshold, not one before', async () => {
    const { breaker, transitions } = breakerWithLog({ failureThreshold: 5 });
    await run(breaker, 4, boom);
    expect(breaker.state).toBe('closed');
    await run(breaker, 1, boom);
    expect(breaker.state).toBe('open');
    expect(transitions).toEqual(['closed->open']);
  });

  it('counts failures regardless of successes in between (count rule)', async () => {
    const { breaker } = breakerWithLog({ failureThreshold: 3 });
    for (let i = 0; i < 3; i++) {
      await run(breaker, 10, ok);
      await run(breaker, 1, boom);
    }
    expect(breaker.state).toBe('open');
  });

  it('forgets failures that slid out of the window', async () => {
    const { breaker } = breakerWithLog({ failureThreshold: 3, windowMs: 10_000, windowBuckets: 10 });
    await run(breaker, 2, boom);
    await jest.advanceTimersByTimeAsync(10_000);
    await run(breaker, 2, boom);
    expect(breaker.state).toBe('closed');
    // The last two are still inside the window: one more opens it.
    await jest.advanceTimersByTimeAsync(5_000);
    await run(breaker, 1, boom);
    expect(breaker.state).toBe('open');
  });

  it('ignores the ratio rule until minimumCalls calls are in the window', async () => {
    const { breaker } = breakerWithLog({
      failureThreshold: Infinity,
      failureRateThreshold: 0.5,
      minimumCalls: 10,
    });
    await run(breaker, 9, boom); // 100% failures, but only 9 calls
    expect(breaker.state).toBe('closed');
    await run(breaker, 1, ok); // 10 calls, 90% failed: the next failure evaluates
    expect(breaker.state).toBe('closed');
    await run(breaker, 1, boom);
    expect(breaker.state).toBe('open');
  });

  it('opens by ratio exactly at the threshold and stays closed below it', async () => {
    const below = new CircuitBreaker({ failureThreshold: Infinity, failureRateThreshold: 0.5, minimumCalls: 10 });
    await run(below, 6, ok);
    await run(below, 4, boom); // 4/10
    expect(below.state).toBe('closed');

    const at = new CircuitBreaker({ failureThreshold: Infinity, failureRateThreshold: 0.5, minimumCalls: 10 });
    await run(at, 5, ok);
    await run(at, 5, boom); // 5/10
    expect(at.state).toBe('open');
  });

  it('computes the ratio over the rolling window only', async () => {
    const breaker = new CircuitBreaker({
      failureThreshold: Infinity,
      failureRateThreshold: 0.5,
      minimumCalls: 4,
      windowMs: 1_000,
    });
    await run(breaker, 3, boom);
    await jest.advanceTimersByTimeAsync(1_000); // those 3 failures leave the window
    await run(breaker, 3, ok);
    await run(breaker, 1, boom); // 1/4 in window
    expect(breaker.state).toBe('closed');
  });

  it('counts a slow call as a failure even though it succeeded, and still returns its result', async () => {
    const { breaker } = breakerWithLog({ failureThreshold: 2, slowCallMs: 1_000 });
    const failures: { slow: boolean; durationMs: number; error?: unknown }[] = [];
    breaker.onFailure((e) => failures.push(e));
    const slow = () => delay(1_000).then(() => 'late');

    const first = track(breaker.execute(slow));
    await jest.advanceTimersByTimeAsync(1_000);
    expect(first.value).toBe('late');
    expect(breaker.state).toBe('closed');

    const second = track(breaker.execute(slow));
    await jest.advanceTimersByTimeAsync(1_000);
    expect(second.value).toBe('late');
    expect(breaker.state).toBe('open');
    expect(failures).toEqual([
      { name: 'model-a', durationMs: 1_000, error: undefined, slow: true },
      { name: 'model-a', durationMs: 1_000, error: undefined, slow: true },
    ]);
  });

  it('does not count a call just under slowCallMs', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, slowCallMs: 1_000 });
    const call = track(breaker.execute(() => delay(999)));
    await jest.advanceTimersByTimeAsync(999);
    await call.done;
    expect(breaker.state).toBe('closed');
  });

  it('treats errors that isFailure rules out as successes', async () => {
    const breaker = new CircuitBreaker({
      failureThreshold: 1,
      failureRateThreshold: 0.1,
      minimumCalls: 1,
      isFailure: (e) => !(e instanceof ClientError),
    });
    const successes: unknown[] = [];
    breaker.onSuccess((e) => successes.push(e.error));
    const clientError = new ClientError('bad input');
    for (let i = 0; i < 20; i++) await expect(breaker.execute(() => Promise.reject(clientError))).rejects.toBe(clientError);
    expect(breaker.state).toBe('closed');
    expect(successes).toHaveLength(20);
    expect(successes[0]).toBe(clientError);
    await run(breaker, 1, boom);
    expect(breaker.state).toBe('open');
  });

  it('emits success and failure events with durations', async () => {
    const breaker = new CircuitBreaker({ name: 'redis' });
    const events: unknown[] = [];
    breaker.onSuccess((e) => events.push(['ok', e]));
    breaker.onFailure((e) => events.push(['fail', e]));
    const err = new Error('x');
    const a = track(breaker.execute(() => delay(30).then(() => 1)));
    await jest.advanceTimersByTimeAsync(30);
    await a.done;
    await breaker.execute(() => Promise.reject(err)).catch(() => undefined);
    expect(events).toEqual([
      ['ok', { name: 'redis', durationMs: 30 }],
      ['fail', { name: 'redis', durationMs: 0, error: err, slow: false }],
    ]);
  });

  it('counts a synchronous throw from the operation as a failure', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const err = new Error('sync');
    await expect(
      breaker.execute(() => {
        throw err;
      }),
    ).rejects.toBe(err);
    expect(breaker.state).toBe('open');
  });
});

describe('CircuitBreaker open state', () => {
  it('rejects at once with BrokenCircuitError without calling the operation', async () => {
    const { breaker } = await openBreaker();
    const fn = jest.fn(ok);
    const error = await breaker.execute(fn).catch((e: unknown) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(isBrokenCircuitError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'BREAKER_OPEN', breakerName: 'model-a', state: 'open', retryAfterSeconds: 10 });
  });

  it('reports the remaining open time in retryAfter, rounded up, never below 1 s', async () => {
    const { breaker } = await openBreaker({ openMs: 30_000 });
    const rejected: number[] = [];
    breaker.onRejected((e) => rejected.push(e.retryAfterMs));

    await jest.advanceTimersByTimeAsync(12_300);
    let error = (await breaker.execute(ok).catch((e: unknown) => e)) as BrokenCircuitError;
    expect(error.retryAfterMs).toBe(17_700);
    expect(error.retryAfterSeconds).toBe(18);

    await jest.advanceTimersByTimeAsync(17_500);
    error = (await breaker.execute(ok).catch((e: unknown) => e)) as BrokenCircuitError;
    expect(error.retryAfterSeconds).toBe(1);
    expect(rejected).toEqual([17_700, 200]);
  });

  it('stays open (and reports open) until openMs has passed and a call arrives', async () => {
    const { breaker, transitions } = await openBreaker({ openMs: 10_000 });
    await jest.advanceTimersByTimeAsync(9_999);
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    await jest.advanceTimersByTimeAsync(1);
    expect(breaker.state).toBe('open');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('ignores results of calls admitted before it opened', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 1_000 });
    const late = deferred<string>();
    const lateCall = track(breaker.execute(() => late.promise));
    await run(breaker, 2, boom);
    expect(breaker.state).toBe('open');
    late.reject(new Error('late failure'));
    await lateCall.done;
    expect(breaker.state).toBe('open');
  });
});

describe('CircuitBreaker half-open state', () => {
  it('admits at most halfOpenMaxProbes concurrent probes and rejects the rest fast', async () => {
    const { breaker } = await openBreaker({ halfOpenMaxProbes: 2, openMs: 5_000 });
    await jest.advanceTimersByTimeAsync(5_000);
    const probes = [deferred<string>(), deferred<string>()];
    const calls = probes.map((p) => track(breaker.execute(() => p.promise)));
    expect(breaker.state).toBe('half-open');

    const extra = jest.fn(ok);
    const error = await breaker.execute(extra).catch((e: unknown) => e);
    expect(extra).not.toHaveBeenCalled();
    expect(error).toMatchObject({ code: 'BREAKER_OPEN', state: 'half-open', retryAfterSeconds: 1, retryAfterMs: 0 });

    // A finished probe frees its slot.
    probes[0].resolve('a');
    await calls[0].done;
    expect(breaker.state).toBe('closed');
    probes[1].resolve('b');
    await calls[1].done;
    expect(calls.map((c) => c.value)).toEqual(['a', 'b']);
  });

  it('frees a probe slot when a probe succeeds but more successes are needed', async () => {
    const { breaker } = await openBreaker({ halfOpenMaxProbes: 1, halfOpenSuccessesToClose: 2, openMs: 1_000 });
    await jest.advanceTimersByTimeAsync(1_000);
    const probe = deferred<string>();
    const first = track(breaker.execute(() => probe.promise));
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    probe.resolve('x');
    await first.done;
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('closes after halfOpenSuccessesToClose successful probes, with an empty window', async () => {
    const { breaker, transitions } = await openBreaker({
      failureThreshold: 3,
      halfOpenSuccessesToClose: 3,
      openMs: 1_000,
    });
    await jest.advanceTimersByTimeAsync(1_000);
    await run(breaker, 2, ok);
    expect(breaker.state).toBe('half-open');
    await run(breaker, 1, ok);
    expect(breaker.state).toBe('closed');
    // The failures that opened it are gone: two new ones do not reach the threshold of 3.
    await run(breaker, 2, boom);
    expect(breaker.state).toBe('closed');
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('re-opens on a failed probe, for a fresh openMs', async () => {
    const { breaker, transitions } = await openBreaker({ openMs: 10_000, halfOpenSuccessesToClose: 2 });
    await jest.advanceTimersByTimeAsync(10_000);
    await run(breaker, 1, ok); // one good probe is not enough...
    await run(breaker, 1, boom); // ...and a failed one re-opens
    expect(breaker.state).toBe('open');
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->open']);

    await jest.advanceTimersByTimeAsync(9_000);
    const error = (await breaker.execute(ok).catch((e: unknown) => e)) as BrokenCircuitError;
    expect(error.retryAfterSeconds).toBe(1);
    await jest.advanceTimersByTimeAsync(1_000);
    await run(breaker, 2, ok);
    expect(breaker.state).toBe('closed');
  });

  it('re-opens on a slow probe', async () => {
    const { breaker } = await openBreaker({ openMs: 1_000, slowCallMs: 500 });
    await jest.advanceTimersByTimeAsync(1_000);
    const probe = track(breaker.execute(() => delay(500).then(() => 'slow')));
    await jest.advanceTimersByTimeAsync(500);
    expect(probe.value).toBe('slow');
    expect(breaker.state).toBe('open');
  });

  it('counts a neutral error from a probe as a success', async () => {
    const { breaker } = await openBreaker({ openMs: 1_000, isFailure: (e) => !(e instanceof ClientError) });
    await jest.advanceTimersByTimeAsync(1_000);
    await expect(breaker.execute(() => Promise.reject(new ClientError('404')))).rejects.toBeInstanceOf(ClientError);
    expect(breaker.state).toBe('closed');
  });

  it('ignores late results of the other probes once a probe has decided', async () => {
    const { breaker } = await openBreaker({ openMs: 1_000, halfOpenMaxProbes: 2 });
    await jest.advanceTimersByTimeAsync(1_000);
    const slowProbe = deferred<string>();
    const slow = track(breaker.execute(() => slowProbe.promise));
    await run(breaker, 1, ok); // closes
    expect(breaker.state).toBe('closed');
    slowProbe.reject(new Error('late'));
    await slow.done;
    expect(breaker.state).toBe('closed');
  });

  it('does not let a call from the closed period decide a half-open breaker', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 1_000 });
    const old = deferred<string>();
    const oldCall = track(breaker.execute(() => old.promise));
    await run(breaker, 2, boom);
    await jest.advanceTimersByTimeAsync(1_000);
    const probe = deferred<string>();
    const probeCall = track(breaker.execute(() => probe.promise));
    expect(breaker.state).toBe('half-open');
    old.reject(new Error('old failure'));
    await oldCall.done;
    expect(breaker.state).toBe('half-open');
    probe.resolve('fine');
    await probeCall.done;
    expect(breaker.state).toBe('closed');
  });
});

describe('CircuitBreaker caller aborts and timeouts', () => {
  it('does not count a call the caller aborted, and frees its probe slot', async () => {
    const { breaker } = await openBreaker({ openMs: 1_000, failureThreshold: 1 });
    await jest.advanceTimersByTimeAsync(1_000);
    const controller = new AbortController();
    const probe = track(
      breaker.execute(
        ({ signal }) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
        { signal: controller.signal },
      ),
    );
    controller.abort(new Error('client went away'));
    await probe.done;
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');

    // Closed: an aborted call neither trips nor counts.
    const c2 = new AbortController();
    c2.abort(new Error('gone'));
    await expect(breaker.execute(boom, { signal: c2.signal })).rejects.toThrow('boom');
    expect(breaker.state).toBe('closed');
  });

  it('fails a call whose deadline has already passed without counting it or spending a probe', async () => {
    const { breaker } = await openBreaker({ openMs: 1_000, failureThreshold: 1 });
    await jest.advanceTimersByTimeAsync(1_000);
    const deadline = Deadline.after(0);
    const fn = jest.fn(ok);
    await expect(breaker.execute(fn, { deadline })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', kind: 'deadline' });
    expect(fn).not.toHaveBeenCalled();
    expect(breaker.state).toBe('open');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('counts a call whose signal was aborted by a timeout', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const controller = new AbortController();
    const timeout = new TimeoutError(100, 'per-try');
    controller.abort(timeout);
    await expect(breaker.execute(() => Promise.reject(timeout), { signal: controller.signal })).rejects.toBe(timeout);
    expect(breaker.state).toBe('open');
  });
});

describe('CircuitBreaker manual control, events and options', () => {
  it('isolate() keeps it open past openMs until reset()', async () => {
    const { breaker, transitions } = breakerWithLog({ openMs: 1_000 });
    breaker.isolate();
    await jest.advanceTimersByTimeAsync(60_000);
    const error = await breaker.execute(ok).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BREAKER_OPEN', state: 'open', retryAfterSeconds: 1 });
    breaker.reset();
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(transitions).toEqual(['closed->open', 'open->closed']);
  });

  it('reset() clears the window', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3 });
    await run(breaker, 2, boom);
    breaker.reset();
    await run(breaker, 2, boom);
    expect(breaker.state).toBe('closed');
  });

  it('stops notifying an unsubscribed listener and survives a throwing one', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const seen: StateChangeEvent[] = [];
    const stop = breaker.onStateChange((e) => seen.push(e));
    breaker.onStateChange(() => {
      throw new Error('metrics bug');
    });
    breaker.onFailure(() => {
      throw new Error('metrics bug');
    });
    const err = new Error('upstream');
    await expect(breaker.execute(() => Promise.reject(err))).rejects.toBe(err);
    expect(seen).toEqual([{ name: 'default', from: 'closed', to: 'open' }]);
    stop();
    breaker.reset();
    expect(seen).toHaveLength(1);
  });

  it('lets the same listener subscribe twice and unsubscribe each separately', async () => {
    const breaker = new CircuitBreaker();
    const listener = jest.fn();
    const stopA = breaker.onSuccess(listener);
    breaker.onSuccess(listener);
    await breaker.execute(ok);
    expect(listener).toHaveBeenCalledTimes(2);
    stopA();
    await breaker.execute(ok);
    expect(listener).toHaveBeenCalledTimes(3);
  });

  it('uses an injected clock for windows, durations and open time', async () => {
    let t = 1_000_000;
    const clock: Clock = { now: () => t };
    const breaker = new CircuitBreaker({ clock, failureThreshold: 2, windowMs: 1_000, openMs: 5_000, slowCallMs: 50 });
    await run(breaker, 1, boom);
    t += 1_000;
    await run(breaker, 1, boom);
    expect(breaker.state).toBe('closed');
    await run(breaker, 1, () => {
      t += 50; // "takes" 50 ms on the injected clock
      return ok();
    });
    expect(breaker.state).toBe('open');
    t += 4_999;
    await expect(breaker.execute(ok)).rejects.toMatchObject({ retryAfterMs: 1 });
    t += 1;
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });

  it.each<[string, CircuitBreakerOptions]>([
    ['failureThreshold', { failureThreshold: 0 }],
    ['failureThreshold', { failureThreshold: 1.5 }],
    ['failureRateThreshold', { failureRateThreshold: 0 }],
    ['failureRateThreshold', { failureRateThreshold: 1.2 }],
    ['minimumCalls', { minimumCalls: 0 }],
    ['windowMs', { windowMs: 0 }],
    ['windowBuckets', { windowBuckets: 0 }],
    ['slowCallMs', { slowCallMs: -1 }],
    ['openMs', { openMs: -1 }],
    ['halfOpenMaxProbes', { halfOpenMaxProbes: 0 }],
    ['halfOpenSuccessesToClose', { halfOpenSuccessesToClose: NaN }],
  ])('rejects an invalid %s', (name, options) => {
    expect(() => new CircuitBreaker(options)).toThrow(new RegExp(`^${name} must`));
  });
});

describe('CircuitBreaker.probeNow (an outside signal that the upstream recovered)', () => {
  it('moves an open breaker to half-open at once: the next call is the probe, and its success closes it', async () => {
    const { breaker, transitions } = await openBreaker({ openMs: 60_000 });
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    breaker.probeNow();
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('a failed probe opens it again for a full openMs', async () => {
    const { breaker } = await openBreaker({ openMs: 60_000 });
    breaker.probeNow();
    await run(breaker, 1, boom);
    expect(breaker.state).toBe('open');
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
  });

  it('does nothing when closed, half-open or isolated', async () => {
    const closed = new CircuitBreaker();
    closed.probeNow();
    expect(closed.state).toBe('closed');
    const { breaker } = await openBreaker();
    breaker.probeNow();
    const probe = deferred<string>();
    const inFlight = breaker.execute(() => probe.promise);
    breaker.probeNow();
    expect(breaker.state).toBe('half-open');
    probe.resolve('ok');
    await inFlight;
    const isolated = new CircuitBreaker();
    isolated.isolate();
    isolated.probeNow();
    expect(isolated.state).toBe('open');
    await expect(isolated.execute(ok)).rejects.toBeInstanceOf(BrokenCircuitError);
  });
});
