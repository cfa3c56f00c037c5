import { CacheUnavailableError } from './cache.errors';
import type { CacheStore, JsonValue } from './cache.types';
import { MemoryStore } from './memory.store';
import {
  PredictionCache,
  type PredictionCacheEvents,
} from './prediction.cache';

const HOUR = 3_600_000;

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise reaction run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** A store whose backend is down: every call rejects like RedisStore does during an outage. */
class DownStore implements CacheStore {
  async get<T extends JsonValue>(): Promise<T | undefined> {
    throw new CacheUnavailableError('GET', new Error('connection refused'));
  }
  async set(): Promise<void> {
    throw new CacheUnavailableError('SET', new Error('connection refused'));
  }
  async delete(): Promise<boolean> {
    throw new CacheUnavailableError('DEL', new Error('connection refused'));
  }
}

function record(cache: PredictionCache) {
  const events: Array<[keyof PredictionCacheEvents, unknown]> = [];
  for (const name of ['hit', 'miss', 'eviction', 'storeError'] as const) {
    cache.on(name, (payload) => events.push([name, payload]));
  }
  return events;
}

describe('PredictionCache', () => {
  it('computes on a miss, then answers from the store with cached: true', async () => {
    const cache = new PredictionCache({
      name: 'predictions',
      store: new MemoryStore({ max: 10 }),
    });
    const events = record(cache);
    let runs = 0;
    const compute = async () => {
      runs += 1;
      return { label: 'greeting', score: 0.97 };
    };

    const first = await cache.getOrCompute('k', compute, HOUR);
    const second = await cache.getOrCompute('k', compute, HOUR);

    expect(first).toEqual({
      value: { label: 'greeting', score: 0.97 },
      cached: false,
    });
    expect(second).toEqual({
      value: { label: 'greeting', score: 0.97 },
      cached: true,
    });
    expect(runs).toBe(1);
    expect(events).toEqual([
      ['miss', { cache: 'predictions', key: 'k', shared: false }],
      ['hit', { cache: 'predictions', key: 'k' }],
    ]);
    expect(cache.stats()).toEqual({
      name: 'predictions',
      hits: 1,
      misses: 1,
      evictions: 0,
      expirations: 0,
      size: 1,
      hitRate: 0.5,
    });
  });

  it('caches strings and falsy JSON values as hits', async () => {
    const cache = new PredictionCache({
      name: 'p',
      store: new MemoryStore({ max: 10 }),
    });
    for (const [key, value] of [
      ['s', 'label'],
      ['zero', 0],
      ['f', false],
      ['n', null],
    ] as const) {
      await cache.getOrCompute(key, async () => value, HOUR);
      const again = await cache.getOrCompute(
        key,
        async () => 'recomputed',
        HOUR,
      );
      expect(again).toEqual({ value, cached: true });
    }
  });

  describe('single-flight', () => {
    it('computes once when a concurrent miss read the store before the first result was written', async () => {
      // Reads that answer one by one, the second only after the first caller's compute and write
      // were issued (a shared store under load answers each read in its own round trip).
      const backing = new MemoryStore({ max: 10 });
      const reads: (() => void)[] = [];
      const writes = deferred<void>();
      const store: CacheStore = {
        get: async <T extends JsonValue>() => {
          await new Promise<void>((resolve) => reads.push(resolve));
          return undefined as T | undefined;
        },
        set: async (key, value, ttl) => {
          await writes.promise;
          await backing.set(key, value, ttl);
        },
        delete: (key) => backing.delete(key),
      };
      const cache = new PredictionCache({ name: 'p', store });
      let runs = 0;
      const compute = async () => ({ label: `run-${++runs}` });
      const first = cache.getOrCompute('k', compute, HOUR);
      const second = cache.getOrCompute('k', compute, HOUR);
      await settle();
      reads.shift()?.();
      expect(await first).toEqual({ value: { label: 'run-1' }, cached: false });
      reads.shift()?.();
      expect(await second).toEqual({ value: { label: 'run-1' }, cached: false });
      expect(runs).toBe(1);
      // Once the write has settled, a new caller reads the store (here: still a miss) and computes.
      writes.resolve();
      await settle();
      const third = cache.getOrCompute('k', compute, HOUR);
      await settle();
      reads.shift()?.();
      expect(await third).toEqual({ value: { label: 'run-2' }, cached: false });
    });

    it('runs one compute for N concurrent misses and shares its result', async () => {
      const cache = new PredictionCache({
        name: 'p',
        store: new MemoryStore({ max: 10 }),
      });
      const events = record(cache);
      const gate = deferred<{ label: string }>();
      let runs = 0;
      const compute = () => {
        runs += 1;
        return gate.promise;
      };

      const calls = Array.from({ length: 25 }, () =>
        cache.getOrCompute('k', compute, HOUR),
      );
      await settle();
      expect(runs).toBe(1);
      gate.resolve({ label: 'x' });
      const results = await Promise.all(calls);

      expect(results).toEqual(
        Array.from({ length: 25 }, () => ({
          value: { label: 'x' },
          cached: false,
        })),
      );
      expect(runs).toBe(1);
      expect(cache.stats()).toMatchObject({ hits: 0, misses: 25 });
      expect(
        events.filter(([, p]) => (p as { shared: boolean }).shared),
      ).toHaveLength(24);
      expect(await cache.getOrCompute('k', compute, HOUR)).toEqual({
        value: { label: 'x' },
        cached: true,
      });
    });

    it('keeps different keys apart', async () => {
      const cache = new PredictionCache({
        name: 'p',
        store: new MemoryStore({ max: 10 }),
      });
      const runs: string[] = [];
      const compute = (k: string) => async () => {
        runs.push(k);
        return k.toUpperCase();
      };
      const results = await Promise.all([
        cache.getOrCompute('a', compute('a'), HOUR),
        cache.getOrCompute('b', compute('b'), HOUR),
        cache.getOrCompute('a', compute('a'), HOUR),
      ]);
      expect(results.map((r) => r.value)).toEqual(['A', 'B', 'A']);
      expect(runs.sort()).toEqual(['a', 'b']);
    });

    it('propagates a compute error to every waiter, caches nothing, and recomputes later', async () => {
      const store = new MemoryStore({ max: 10 });
      const cache = new PredictionCache({ name: 'p', store });
      const gate = deferred<string>();
      let runs = 0;
      const failing = () => {
        runs += 1;
        return gate.promise;
      };
      const calls = Array.from({ length: 10 }, () =>
        cache.getOrCompute('k', failing, HOUR).then(
          () => 'resolved',
          (e: unknown) => e,
        ),
      );
      await settle();
      const boom = new Error('model crashed');
      gate.reject(boom);
      const outcomes = await Promise.all(calls);

      expect(outcomes.every((o) => o === boom)).toBe(true);
      expect(runs).toBe(1);
      expect(await store.get('k')).toBeUndefined();
      expect(store.size).toBe(0);

      const later = await cache.getOrCompute(
        'k',
        async () => {
          runs += 1;
          return 'ok';
        },
        HOUR,
      );
      expect(later).toEqual({ value: 'ok', cached: false });
      expect(runs).toBe(2);
    });

    it('treats a compute that throws synchronously like a rejection', async () => {
      const cache = new PredictionCache({
        name: 'p',
        store: new MemoryStore({ max: 10 }),
      });
      const compute = (() => {
        throw new Error('sync');
      }) as unknown as () => Promise<string>;
      await expect(cache.getOrCompute('k', compute, HOUR)).rejects.toThrow(
        'sync',
      );
      await expect(
        cache.getOrCompute('k', async () => 'ok', HOUR),
      ).resolves.toEqual({ value: 'ok', cached: false });
    });

    it('joins a compute that started while this call was reading the store', async () => {
      const store = new MemoryStore({ max: 10 });
      const readGates: Array<() => void> = [];
      // Reads that finish only when the test says so, to order the two callers.
      const slowStore: CacheStore = {
        get: (key) =>
          new Promise((r) => readGates.push(() => r(store.get(key)))),
        set: (k, v, t) => store.set(k, v, t),
        delete: (k) => store.delete(k),
      };
      const cache = new PredictionCache({ name: 'p', store: slowStore });
      const gate = deferred<string>();
      let runs = 0;
      const compute = () => {
        runs += 1;
        return gate.promise;
      };
      const a = cache.getOrCompute('k', compute, HOUR);
      const b = cache.getOrCompute('k', compute, HOUR);
      await settle();
      readGates[0]?.(); // a misses and starts computing
      await settle();
      readGates[1]?.(); // b misses after a started: it must join
      await settle();
      gate.resolve('v');
      expect(await Promise.all([a, b])).toEqual([
        { value: 'v', cached: false },
        { value: 'v', cached: false },
      ]);
      expect(runs).toBe(1);
    });
  });

  describe('TTL', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('recomputes once the entry has expired and counts the expiry', async () => {
      const store = new MemoryStore({
        max: 10,
        clock: { now: () => Date.now() },
      });
      const cache = new PredictionCache({ name: 'p', store });
      const events = record(cache);
      let runs = 0;
      const compute = async () => {
        runs += 1;
        return runs;
      };
      expect(await cache.getOrCompute('k', compute, 5000)).toEqual({
        value: 1,
        cached: false,
      });
      jest.advanceTimersByTime(4999);
      expect(await cache.getOrCompute('k', compute, 5000)).toEqual({
        value: 1,
        cached: true,
      });
      jest.advanceTimersByTime(2);
      expect(await cache.getOrCompute('k', compute, 5000)).toEqual({
        value: 2,
        cached: false,
      });
      expect(events).toContainEqual([
        'eviction',
        { cache: 'p', key: 'k', reason: 'expired' },
      ]);
      expect(cache.stats()).toMatchObject({
        hits: 1,
        misses: 2,
        expirations: 1,
        evictions: 0,
      });
    });
  });

  it('relays capacity evictions of the store as events and stats', async () => {
    const store = new MemoryStore({ max: 2 });
    const cache = new PredictionCache({ name: 'small', store });
    const events = record(cache);
    for (const k of ['a', 'b', 'c']) {
      await cache.getOrCompute(k, async () => k, HOUR);
    }
    expect(events).toContainEqual([
      'eviction',
      { cache: 'small', key: 'a', reason: 'capacity' },
    ]);
    expect(cache.stats()).toMatchObject({ evictions: 1, size: 2 });

    cache.close();
    await cache.getOrCompute('d', async () => 'd', HOUR);
    expect(store.evictions).toBe(2);
    expect(cache.stats().evictions).toBe(1);
  });

  it('keeps answering when the store is down: misses, computes, reports storeError', async () => {
    const cache = new PredictionCache({ name: 'p', store: new DownStore() });
    const events = record(cache);
    let runs = 0;
    const compute = async () => {
      runs += 1;
      return 'v';
    };
    expect(await cache.getOrCompute('k', compute, HOUR)).toEqual({
      value: 'v',
      cached: false,
    });
    expect(await cache.getOrCompute('k', compute, HOUR)).toEqual({
      value: 'v',
      cached: false,
    });
    expect(runs).toBe(2);
    expect(
      events.map(([name, p]) => [
        name,
        (p as { operation?: string }).operation,
      ]),
    ).toEqual([
      ['storeError', 'get'],
      ['miss', undefined],
      ['storeError', 'set'],
      ['storeError', 'get'],
      ['miss', undefined],
      ['storeError', 'set'],
    ]);
    expect(cache.stats()).toMatchObject({ size: null, hitRate: 0, misses: 2 });
  });

  it('answers a miss without waiting for the store write, and reports a failed write later', async () => {
    const write = deferred<void>();
    const store: CacheStore = {
      get: async () => undefined,
      set: () => write.promise,
      delete: async () => false,
    };
    const cache = new PredictionCache({ name: 'p', store });
    const events = record(cache);
    // Resolves although the write has not settled (a stalled Redis would hold it ~commandTimeout).
    expect(await cache.getOrCompute('k', async () => 'v', HOUR)).toEqual({
      value: 'v',
      cached: false,
    });
    expect(events.map(([name]) => name)).toEqual(['miss']);
    write.reject(new CacheUnavailableError('SET', new Error('timed out')));
    await settle();
    expect(events.map(([name]) => name)).toEqual(['miss', 'storeError']);
  });

  it("hands the request's budget to the store read, not to the background write", async () => {
    const seen: Array<[string, unknown]> = [];
    const store: CacheStore = {
      get: async (_key, budget) => {
        seen.push(['get', budget]);
        return undefined;
      },
      set: async (_key, _value, _ttl, budget) => {
        seen.push(['set', budget]);
      },
      delete: async () => false,
    };
    const budget = { exhausted: false, run: <T>(call: () => Promise<T>) => call() };
    const cache = new PredictionCache({ name: 'p', store });
    await cache.getOrCompute('k', async () => 'v', HOUR, budget);
    await settle();
    expect(seen).toEqual([
      ['get', budget],
      ['set', undefined],
    ]);
  });

  it('returns a computed value JSON cannot carry without caching it', async () => {
    const cache = new PredictionCache({
      name: 'p',
      store: new MemoryStore({ max: 10 }),
    });
    const errors: unknown[] = [];
    cache.on('storeError', (e) => errors.push(e.error));
    const odd = { n: 1n } as unknown as JsonValue;
    const result = await cache.getOrCompute('k', async () => odd, HOUR);
    expect(result).toEqual({ value: odd, cached: false });
    expect(errors).toEqual([
      expect.objectContaining({ code: 'CACHE_INVALID_ARGUMENT' }),
    ]);
  });

  it('rejects a bad TTL before computing', async () => {
    const cache = new PredictionCache({
      name: 'p',
      store: new MemoryStore({ max: 10 }),
    });
    let runs = 0;
    await expect(
      cache.getOrCompute('k', async () => ++runs, 0),
    ).rejects.toMatchObject({ code: 'CACHE_INVALID_ARGUMENT' });
    expect(runs).toBe(0);
  });

  it('invalidate() drops a cached prediction', async () => {
    const cache = new PredictionCache({
      name: 'p',
      store: new MemoryStore({ max: 10 }),
    });
    await cache.getOrCompute('k', async () => 1, HOUR);
    expect(await cache.invalidate('k')).toBe(true);
    expect(await cache.getOrCompute('k', async () => 2, HOUR)).toEqual({
      value: 2,
      cached: false,
    });
  });

  it('key() is the prediction key of model, version and input', () => {
    const cache = new PredictionCache({
      name: 'p',
      store: new MemoryStore({ max: 10 }),
    });
    expect(cache.key('m', '1', { b: 1, a: 2 })).toBe(
      cache.key('m', '1', { a: 2, b: 1 }),
    );
    expect(cache.key('m', '1', { a: 1 })).not.toBe(
      cache.key('m', '2', { a: 1 }),
    );
  });

  it('refuses an empty name', () => {
    expect(
      () =>
        new PredictionCache({ name: '', store: new MemoryStore({ max: 1 }) }),
    ).toThrow(/name/);
  });

  it('a throwing listener does not break lookups and is reported', async () => {
    const reported: unknown[] = [];
    const cache = new PredictionCache({
      name: 'p',
      store: new MemoryStore({ max: 10 }),
      onListenerError: (e) => reported.push(e),
    });
    const seen: string[] = [];
    const off = cache.on('miss', () => {
      throw new Error('metrics broke');
    });
    cache.on('miss', ({ key }) => seen.push(key));
    expect(await cache.getOrCompute('k', async () => 1, HOUR)).toEqual({
      value: 1,
      cached: false,
    });
    off();
    await cache.getOrCompute('k2', async () => 1, HOUR);
    expect(seen).toEqual(['k', 'k2']);
    expect(reported).toEqual([new Error('metrics broke')]);
  });

  it('by default reports a throwing listener as a process warning', async () => {
    const emitWarning = jest
      .spyOn(process, 'emitWarning')
      .mockImplementation(() => undefined);
    try {
      const cache = new PredictionCache({
        name: 'p',
        store: new MemoryStore({ max: 10 }),
      });
      cache.on('hit', () => {
        throw 'not an Error';
      });
      await cache.getOrCompute('k', async () => 1, HOUR);
      await expect(
        cache.getOrCompute('k', async () => 2, HOUR),
      ).resolves.toEqual({ value: 1, cached: true });
      expect(emitWarning).toHaveBeenCalledWith(
        'a cache event listener threw: not an Error',
        { type: 'CacheListenerError', detail: undefined },
      );
    } finally {
      emitWarning.mockRestore();
    }
  });
});
