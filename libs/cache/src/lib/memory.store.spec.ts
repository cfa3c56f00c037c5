import fc from 'fast-check';
import { isCacheArgumentError } from './cache.errors';
import type { EvictionEvent } from './cache.types';
import { MemoryStore } from './memory.store';

const HOUR = 3_600_000;

describe('MemoryStore', () => {
  describe('LRU eviction order', () => {
    it('evicts the least recently set entry when max is exceeded', async () => {
      const store = new MemoryStore({ max: 3 });
      const evicted: EvictionEvent[] = [];
      store.onEviction((e) => evicted.push(e));
      for (const k of ['a', 'b', 'c', 'd']) await store.set(k, k, HOUR);

      expect(await store.get('a')).toBeUndefined();
      expect(await store.get('b')).toBe('b');
      expect(await store.get('c')).toBe('c');
      expect(await store.get('d')).toBe('d');
      expect(evicted).toEqual([{ key: 'a', reason: 'capacity' }]);
      expect(store.evictions).toBe(1);
      expect(store.size).toBe(3);
    });

    it('lets a recently read entry survive: get refreshes recency', async () => {
      const store = new MemoryStore({ max: 3 });
      for (const k of ['a', 'b', 'c']) await store.set(k, k, HOUR);
      expect(await store.get('a')).toBe('a'); // a is now the most recent, b the least

      await store.set('d', 'd', HOUR);
      expect(await store.get('b')).toBeUndefined();
      expect(await store.get('a')).toBe('a');

      await store.set('e', 'e', HOUR); // c is now the least recent
      expect(await store.get('c')).toBeUndefined();
      expect(await store.get('a')).toBe('a');
      expect(await store.get('d')).toBe('d');
      expect(await store.get('e')).toBe('e');
    });

    it('lets a rewritten entry survive: set refreshes recency without an eviction', async () => {
      const store = new MemoryStore({ max: 2 });
      await store.set('a', 1, HOUR);
      await store.set('b', 2, HOUR);
      await store.set('a', 3, HOUR); // overwrite: b is now the least recent
      expect(store.evictions).toBe(0);
      expect(store.inserts).toBe(2);

      await store.set('c', 4, HOUR);
      expect(await store.get('b')).toBeUndefined();
      expect(await store.get('a')).toBe(3);
      expect(store.evictions).toBe(1);
    });

    it('never holds more than max entries and evicts in exact LRU order', async () => {
      const max = 4;
      const store = new MemoryStore({ max });
      const evicted: string[] = [];
      store.onEviction((e) => evicted.push(e.key));
      for (let i = 0; i < 20; i += 1) {
        await store.set(`k${i}`, i, HOUR);
        expect(store.size).toBeLessThanOrEqual(max);
      }
      expect(evicted).toEqual(Array.from({ length: 16 }, (_, i) => `k${i}`));
      expect(store.size).toBe(max);
    });

    it('a deleted entry frees its slot without counting as an eviction', async () => {
      const store = new MemoryStore({ max: 2 });
      await store.set('a', 1, HOUR);
      await store.set('b', 2, HOUR);
      expect(await store.delete('a')).toBe(true);
      expect(await store.delete('a')).toBe(false);
      await store.set('c', 3, HOUR);
      expect(store.evictions).toBe(0);
      expect(await store.get('b')).toBe(2);
      expect(await store.get('c')).toBe(3);
    });

    it('matches a reference LRU model on any sequence of set/get/delete', async () => {
      type Op =
        | { kind: 'set'; key: string; value: number }
        | { kind: 'get'; key: string }
        | { kind: 'delete'; key: string };
      const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g');
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({
          kind: fc.constant('set' as const),
          key,
          value: fc.integer(),
        }),
        fc.record({ kind: fc.constant('get' as const), key }),
        fc.record({ kind: fc.constant('delete' as const), key }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 5 }),
          fc.array(op, { maxLength: 60 }),
          async (max, ops) => {
            const store = new MemoryStore({ max });
            const evicted: string[] = [];
            store.onEviction((e) => evicted.push(e.key));
            // Reference model: keys from least to most recently used.
            const order: string[] = [];
            const values = new Map<string, number>();
            const expectedEvicted: string[] = [];
            const touch = (k: string) => {
              const i = order.indexOf(k);
              if (i >= 0) order.splice(i, 1);
              order.push(k);
            };
            for (const o of ops) {
              if (o.kind === 'set') {
                if (!values.has(o.key) && order.length === max) {
                  const victim = order.shift() as string;
                  values.delete(victim);
                  expectedEvicted.push(victim);
                }
                values.set(o.key, o.value);
                touch(o.key);
                await store.set(o.key, o.value, HOUR);
              } else if (o.kind === 'get') {
                const expected = values.get(o.key);
                if (expected !== undefined) touch(o.key);
                expect(await store.get(o.key)).toBe(expected);
              } else {
                const had = values.delete(o.key);
                if (had) order.splice(order.indexOf(o.key), 1);
                expect(await store.delete(o.key)).toBe(had);
              }
              expect(store.size).toBe(order.length);
            }
            expect(evicted).toEqual(expectedEvicted);
            expect(store.evictions).toBe(expectedEvicted.length);
          },
        ),
        { numRuns: 300 },
      );
    });
  });

  describe('TTL', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());
    const clock = { now: () => Date.now() };

    it('serves an entry until its TTL has passed, then misses', async () => {
      const store = new MemoryStore({ max: 10, clock });
      const evicted: EvictionEvent[] = [];
      store.onEviction((e) => evicted.push(e));
      await store.set('a', { score: 0.9 }, 1000);

      jest.advanceTimersByTime(999);
      expect(await store.get('a')).toEqual({ score: 0.9 });
      jest.advanceTimersByTime(2);
      expect(await store.get('a')).toBeUndefined();
      expect(evicted).toEqual([{ key: 'a', reason: 'expired' }]);
      expect(store.expirations).toBe(1);
      expect(store.evictions).toBe(0);
      expect(store.size).toBe(0);
    });

    it('does not extend the TTL on read', async () => {
      const store = new MemoryStore({ max: 10, clock });
      await store.set('a', 'x', 1000);
      jest.advanceTimersByTime(600);
      expect(await store.get('a')).toBe('x');
      jest.advanceTimersByTime(600);
      expect(await store.get('a')).toBeUndefined();
    });

    it('restarts the TTL when an entry is written again', async () => {
      const store = new MemoryStore({ max: 10, clock });
      await store.set('a', 'x', 1000);
      jest.advanceTimersByTime(800);
      await store.set('a', 'y', 1000);
      jest.advanceTimersByTime(800);
      expect(await store.get('a')).toBe('y');
    });

    it('keeps a different TTL per entry', async () => {
      const store = new MemoryStore({ max: 10, clock });
      await store.set('short', 1, 100);
      await store.set('long', 2, 10_000);
      jest.advanceTimersByTime(5000);
      expect(await store.get('short')).toBeUndefined();
      expect(await store.get('long')).toBe(2);
    });

    it('counts expired entries in size until purged', async () => {
      const store = new MemoryStore({ max: 10, clock });
      await store.set('a', 1, 100);
      await store.set('b', 2, 100);
      await store.set('c', 3, 10_000);
      jest.advanceTimersByTime(200);
      expect(store.size).toBe(3);
      expect(store.purgeStale()).toBe(true);
      expect(store.size).toBe(1);
      expect(store.expirations).toBe(2);
    });

    it('rounds a fractional TTL up to whole milliseconds', async () => {
      const store = new MemoryStore({ max: 10, clock });
      await store.set('a', 1, 0.2);
      expect(await store.get('a')).toBe(1);
      jest.advanceTimersByTime(2);
      expect(await store.get('a')).toBeUndefined();
    });
  });

  describe('values', () => {
    it('returns a copy, so callers cannot change what is cached', async () => {
      const store = new MemoryStore({ max: 10 });
      const value = { labels: ['a'], scores: [0.5] };
      await store.set('k', value, HOUR);
      value.labels.push('changed');
      const read = await store.get<{ labels: string[] }>('k');
      expect(read).toEqual({ labels: ['a'], scores: [0.5] });
      read?.labels.push('again');
      expect(await store.get('k')).toEqual({ labels: ['a'], scores: [0.5] });
    });

    it('keeps strings, numbers, booleans and null as values', async () => {
      const store = new MemoryStore({ max: 10 });
      for (const [k, v] of [
        ['s', 'text'],
        ['n', 0],
        ['b', false],
        ['z', null],
      ] as const) {
        await store.set(k, v, HOUR);
        expect(await store.get(k)).toBe(v);
      }
    });

    it('refuses values JSON cannot carry and bad TTLs', async () => {
      const store = new MemoryStore({ max: 10 });
      const cyclic: Record<string, unknown> = {};
      cyclic['self'] = cyclic;
      await expect(store.set('k', cyclic as never, HOUR)).rejects.toMatchObject(
        { code: 'CACHE_INVALID_ARGUMENT' },
      );
      await expect(
        store.set('k', undefined as never, HOUR),
      ).rejects.toMatchObject({ code: 'CACHE_INVALID_ARGUMENT' });
      for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = await store.set('k', 'v', ttl).catch((e: unknown) => e);
        expect(isCacheArgumentError(error)).toBe(true);
      }
      expect(store.size).toBe(0);
    });

    it('clear() empties the store without counting evictions', async () => {
      const store = new MemoryStore({ max: 10 });
      await store.set('a', 1, HOUR);
      store.clear();
      expect(store.size).toBe(0);
      expect(store.evictions).toBe(0);
    });
  });

  it('refuses a max that is not a positive integer', () => {
    for (const max of [0, -1, 1.5, Number.NaN]) {
      expect(() => new MemoryStore({ max })).toThrow(/max must be/);
    }
  });

  it('stops telling a listener once it unsubscribed', async () => {
    const store = new MemoryStore({ max: 1 });
    const seen: string[] = [];
    const off = store.onEviction((e) => seen.push(e.key));
    await store.set('a', 1, HOUR);
    await store.set('b', 1, HOUR);
    off();
    await store.set('c', 1, HOUR);
    expect(seen).toEqual(['a']);
    expect(store.evictions).toBe(2);
  });
});
