import { RedisBudget, RedisBudgetExceededError, isRedisBudgetExceededError, redisBudgetOf } from './redis.budget';

/** Jest's fake timers move Date.now() with the timers, so this clock follows them exactly. */
const clock = { now: () => Date.now() };

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Follows a promise's outcome without letting a rejection go unhandled. */
function track<T>(p: Promise<T>) {
  const t: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  p.then(
    (v) => Object.assign(t, { settled: true, value: v }),
    (e: unknown) => Object.assign(t, { settled: true, error: e }),
  );
  return t;
}

const after = (ms: number) => jest.advanceTimersByTimeAsync(ms);
/** A call that answers `value` after `ms` (fake time). */
const answersAfter = <T>(ms: number, value: T) => () => new Promise<T>((r) => setTimeout(() => r(value), ms));

beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
afterEach(() => jest.useRealTimers());

describe('RedisBudget', () => {
  it.each([0, -1, NaN, Infinity])('refuses a total of %p', (total) => {
    expect(() => new RedisBudget(total, clock)).toThrow(RangeError);
  });

  it('starts full and is not charged for time without a Redis call', async () => {
    const b = new RedisBudget(250, clock);
    expect(b.remainingMs()).toBe(250);
    await after(10_000);
    expect(b.remainingMs()).toBe(250);
    expect(b.exhausted).toBe(false);
    expect(b.spentMsSoFar).toBe(0);
  });

  it("charges a call's pending time, counts the wait under way, and passes its result on", async () => {
    const b = new RedisBudget(250, clock);
    const call = track(b.run(answersAfter(100, 'v')));
    await after(40);
    expect(b.remainingMs()).toBe(210);
    await after(60);
    expect(call.value).toBe('v');
    expect(b.remainingMs()).toBe(150);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('charges overlapping calls once, and never the gaps between calls', async () => {
    const b = new RedisBudget(250, clock);
    const a = track(b.run(answersAfter(100, 'a')));
    await after(50);
    const c = track(b.run(answersAfter(100, 'c')));
    await after(100);
    expect([a.value, c.value]).toEqual(['a', 'c']);
    // Pending from 0 to 150.
    expect(b.remainingMs()).toBe(100);
    await after(5_000); // e.g. inference between a read and a write
    const d = track(b.run(answersAfter(30, 'd')));
    await after(30);
    expect(d.value).toBe('d');
    expect(b.remainingMs()).toBe(70);
  });

  it('cuts a call that outlasts the budget, exactly when it runs out, and drops its late result', async () => {
    const b = new RedisBudget(250, clock);
    const work = deferred<string>();
    const call = track(b.run(() => work.promise));
    await after(249);
    expect(call.settled).toBe(false);
    await after(1);
    expect(call.error).toBeInstanceOf(RedisBudgetExceededError);
    expect(call.error).toMatchObject({ code: 'REDIS_BUDGET_EXCEEDED', refused: false, budgetMs: 250 });
    expect(b.exhausted).toBe(true);
    work.resolve('late');
    await after(0);
    expect(call.value).toBeUndefined();
    expect(b.remainingMs()).toBe(0);
  });

  it('has nothing left once a call was cut, even when its timer fired a little before the clock got there', async () => {
    // A clock 0.7 ms behind the timers, as libuv's millisecond loop time can be behind performance.now().
    const b = new RedisBudget(100, { now: () => Date.now() - 0.7 });
    const call = track(b.run(() => new Promise(() => undefined)));
    await after(100);
    expect(isRedisBudgetExceededError(call.error)).toBe(true);
    expect(b.remainingMs()).toBe(0);
    expect(b.exhausted).toBe(true);
    const fn = jest.fn(() => Promise.resolve(1));
    await expect(b.run(fn)).rejects.toMatchObject({ refused: true });
    expect(fn).not.toHaveBeenCalled();
  });

  it('gives a later call only what earlier calls left', async () => {
    const b = new RedisBudget(250, clock);
    const first = track(b.run(answersAfter(200, 1)));
    await after(200);
    expect(first.value).toBe(1);
    const never = deferred<never>();
    const call = track(b.run(() => never.promise));
    await after(49);
    expect(call.settled).toBe(false);
    await after(1);
    expect(isRedisBudgetExceededError(call.error)).toBe(true);
  });

  it('ends every overlapping call by the same moment: the budget is for the request, not per call', async () => {
    const b = new RedisBudget(250, clock);
    const first = track(b.run(() => new Promise(() => undefined)));
    await after(200);
    const second = track(b.run(() => new Promise(() => undefined)));
    await after(49);
    expect([first.settled, second.settled]).toEqual([false, false]);
    await after(1);
    expect(isRedisBudgetExceededError(first.error)).toBe(true);
    expect(isRedisBudgetExceededError(second.error)).toBe(true);
  });

  it('does not start a call once nothing is left', async () => {
    const b = new RedisBudget(100, clock);
    track(b.run(() => new Promise(() => undefined)));
    await after(100);
    const fn = jest.fn(() => Promise.resolve('x'));
    await expect(b.run(fn)).rejects.toMatchObject({ refused: true, budgetMs: 100 });
    expect(fn).not.toHaveBeenCalled();
    expect(new RedisBudgetExceededError(100, true).message).toMatch(/not sent/);
    expect(new RedisBudgetExceededError(100, false).message).toMatch(/cut short/);
  });

  it("passes a call's own failure on, charged like any wait, and turns a synchronous throw into a rejection", async () => {
    const b = new RedisBudget(250, clock);
    const err = new Error('ECONNREFUSED');
    const call = track(b.run(() => new Promise((_, reject) => setTimeout(() => reject(err), 20))));
    await after(20);
    expect(call.error).toBe(err);
    expect(b.remainingMs()).toBe(230);
    await expect(
      b.run(() => {
        throw err;
      }),
    ).rejects.toBe(err);
    expect(b.remainingMs()).toBe(230);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('sends the call synchronously, so commands keep the order they were issued in', () => {
    const b = new RedisBudget(250, clock);
    const order: string[] = [];
    void b.run(async () => order.push('first'));
    order.push('after run()');
    expect(order).toEqual(['first', 'after run()']);
  });

  it('arms a timer of at least 1 ms when less than a millisecond is left', async () => {
    let now = 0;
    const b = new RedisBudget(1, { now: () => now });
    now = 0; // nothing spent yet; a call of 0.4 ms leaves 0.6 ms
    const p = b.run(async () => {
      now = 0.4;
      return 1;
    });
    await p;
    expect(b.remainingMs()).toBeCloseTo(0.6);
    const call = track(b.run(() => new Promise(() => undefined)));
    await after(1);
    expect(isRedisBudgetExceededError(call.error)).toBe(true);
  });
});

describe('redisBudgetOf', () => {
  it('creates one budget per request on the first call with a total, then returns that one', () => {
    const req = {};
    expect(redisBudgetOf(req)).toBeUndefined();
    const b = redisBudgetOf(req, 250);
    expect(b).toBeInstanceOf(RedisBudget);
    expect(b?.totalMs).toBe(250);
    expect(redisBudgetOf(req)).toBe(b);
    expect(redisBudgetOf(req, 999)).toBe(b);
    expect(redisBudgetOf({}, 250)).not.toBe(b);
    // The request object is left as it was.
    expect(Object.getOwnPropertySymbols(req)).toEqual([]);
    expect(Object.keys(req)).toEqual([]);
  });
});
