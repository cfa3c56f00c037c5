import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryCounterStore } from './memory.counter-store';
import { RateLimitConfigError } from './rate-limit.errors';
import { secondsUntilReset } from './rate-limit.types';

class FakeClock {
  t = 1_000;
  now = () => this.t;
}

describe('MemoryCounterStore', () => {
  let clock: FakeClock;
  let store: MemoryCounterStore;
  beforeEach(() => {
    clock = new FakeClock();
    store = new MemoryCounterStore({ clock });
  });
  afterEach(() => store.close());

  it('lets exactly `limit` units through per window, then refuses until the window ends', () => {
    const seen = Array.from({ length: 5 }, () => store.consumeNow('k', 1, 3, 1000));
    expect(seen.map((r) => r.allowed)).toEqual([true, true, true, false, false]);
    expect(seen.map((r) => r.count)).toEqual([1, 2, 3, 3, 3]);
    clock.t += 400;
    expect(store.consumeNow('k', 1, 3, 1000)).toEqual({ allowed: false, count: 3, resetMs: 600 });
    clock.t += 600;
    expect(store.consumeNow('k', 1, 3, 1000)).toEqual({ allowed: true, count: 1, resetMs: 1000 });
  });

  it('charges a batch its cost and refuses one that does not fit without charging it', () => {
    expect(store.consumeNow('k', 4, 10, 1000)).toMatchObject({ allowed: true, count: 4 });
    expect(store.consumeNow('k', 7, 10, 1000)).toMatchObject({ allowed: false, count: 4 });
    expect(store.consumeNow('k', 6, 10, 1000)).toMatchObject({ allowed: true, count: 10 });
    expect(store.consumeNow('k', 1, 10, 1000)).toMatchObject({ allowed: false, count: 10 });
  });

  it('refuses a cost above the whole limit without holding a slot for it', () => {
    expect(store.consumeNow('k', 11, 10, 1000)).toEqual({ allowed: false, count: 0, resetMs: 1000 });
    expect(store.size).toBe(0);
  });

  it('keeps trackers apart', async () => {
    expect((await store.consume('a', 2, 2, 1000)).allowed).toBe(true);
    expect((await store.consume('a', 1, 2, 1000)).allowed).toBe(false);
    expect((await store.consume('b', 2, 2, 1000)).allowed).toBe(true);
  });

  it('drops ended windows on sweep and a few on every new tracker', () => {
    for (let i = 0; i < 10; i++) store.consumeNow(`k${i}`, 1, 5, 1000);
    clock.t += 500;
    store.consumeNow('late', 1, 5, 1000);
    clock.t += 500;
    // Ten windows ended; a new tracker clears at most four of them on its way in.
    store.consumeNow('new', 1, 5, 1000);
    expect(store.size).toBe(12 - 4);
    store.sweep();
    expect(store.size).toBe(2);
    clock.t += 1000;
    store.sweep();
    expect(store.size).toBe(0);
  });

  it('never holds more than maxKeys trackers, dropping the window that ends first', () => {
    const small = new MemoryCounterStore({ clock, maxKeys: 3 });
    try {
      for (const k of ['a', 'b', 'c']) {
        small.consumeNow(k, 1, 1, 1000);
        clock.t += 10;
      }
      small.consumeNow('d', 1, 1, 1000);
      expect(small.size).toBe(3);
      expect(small.evictions).toBe(1);
      // 'a' was dropped, so it starts afresh; 'b' is still limited.
      expect(small.consumeNow('a', 1, 1, 1000).allowed).toBe(true);
      expect(small.consumeNow('c', 1, 1, 1000).allowed).toBe(false);
    } finally {
      small.close();
    }
  });

  it('sweeps on its own timer', () => {
    jest.useFakeTimers();
    const timed = new MemoryCounterStore({ clock, sweepIntervalMs: 100 });
    try {
      timed.consumeNow('a', 1, 1, 50);
      clock.t += 60;
      expect(timed.size).toBe(1);
      jest.advanceTimersByTime(100);
      expect(timed.size).toBe(0);
    } finally {
      timed.close();
      jest.useRealTimers();
    }
  });

  it('rejects unusable options', () => {
    expect(() => new MemoryCounterStore({ maxKeys: 0 })).toThrow(RateLimitConfigError);
    expect(() => new MemoryCounterStore({ maxKeys: 1.5 })).toThrow(RateLimitConfigError);
    expect(() => new MemoryCounterStore({ sweepIntervalMs: 0 })).toThrow(RateLimitConfigError);
  });
});

describe('MemoryCounterStore memory with 1e5 distinct trackers', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const MB = 1024 * 1024;
  const N = 100_000;

  it('holds one small entry per live tracker and gives it all back when the windows end', () => {
    // A fake clock makes "the window has ended" exact whatever the speed of the machine.
    const clock = new FakeClock();
    const store = new MemoryCounterStore({ clock });
    try {
      const base = heap();
      const samples: { full: number; after: number }[] = [];
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < N; i++) {
          // Distinct trackers as the guard keys them (IPv4 clients), new ones every round.
          store.consumeNow(`default:ip:10.${round}.${(i >> 8) & 255}.${i & 255}:${i >> 16}`, 1, 100, 60_000);
        }
        expect(store.size).toBe(N);
        const full = heap() - base;
        clock.t += 60_000;
        store.sweep();
        expect(store.size).toBe(0);
        samples.push({ full, after: heap() - base });
      }
      for (const { full, after } of samples) {
        // The measurement sees the entries (so "after" means something) and each is small.
        expect(full).toBeGreaterThan(5 * MB);
        expect(full / N).toBeLessThan(400);
        // Flat: ended windows leave nothing behind, round after round.
        expect(after).toBeLessThan(2 * MB);
      }
    } finally {
      store.close();
    }
  }, 30_000);
});

describe('MemoryCounterStore.remember', () => {
  it('carries on from a count reported by the shared store, in that window, and starts afresh after it', () => {
    const clock = new FakeClock();
    const store = new MemoryCounterStore({ clock });
    try {
      store.remember('k', 2, 600);
      expect(store.consumeNow('k', 1, 3, 1000)).toEqual({ allowed: true, count: 3, resetMs: 600 });
      expect(store.consumeNow('k', 1, 3, 1000)).toMatchObject({ allowed: false, count: 3 });
      // A later report of the same window updates the count in place; one of a new window replaces it.
      clock.t += 100;
      store.remember('k', 1, 500);
      expect(store.consumeNow('k', 1, 3, 1000)).toEqual({ allowed: true, count: 2, resetMs: 500 });
      store.remember('k', 3, 1000);
      expect(store.consumeNow('k', 1, 3, 1000)).toEqual({ allowed: false, count: 3, resetMs: 1000 });
      clock.t += 1000;
      expect(store.consumeNow('k', 1, 3, 1000)).toEqual({ allowed: true, count: 1, resetMs: 1000 });
      expect(store.size).toBe(1);
    } finally {
      store.close();
    }
  });

  it('stays within maxKeys', () => {
    const clock = new FakeClock();
    const store = new MemoryCounterStore({ clock, maxKeys: 2 });
    try {
      for (const k of ['a', 'b', 'c']) store.remember(k, 1, 1000);
      expect(store.size).toBe(2);
      expect(store.evictions).toBe(1);
    } finally {
      store.close();
    }
  });
});

describe('secondsUntilReset', () => {
  it('rounds up to whole seconds, forgiving float noise of a monotonic clock', () => {
    const t0 = 2571.610135300001; // performance.now()-like: (t0 + 2000) - t0 is 2000.0000000000005
    expect(secondsUntilReset(t0 + 2000 - t0)).toBe(2);
    expect([0, 0.5, 999, 1000, 1000.5, 1999, 2000].map(secondsUntilReset)).toEqual([0, 1, 1, 1, 2, 2, 2]);
  });
});
