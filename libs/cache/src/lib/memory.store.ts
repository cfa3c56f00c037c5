import { LRUCache } from 'lru-cache';
import { CacheArgumentError } from './cache.errors';
import { Listeners } from './cache.listeners';
import type {
  CacheStore,
  Clock,
  EvictionEvent,
  JsonValue,
  Unsubscribe,
} from './cache.types';
import { deserialise, serialise, toTtlMs } from './cache.values';

export interface MemoryStoreOptions {
  /** Most entries held; past it the least recently used entry is evicted. */
  max: number;
  /** Time source for TTLs (defaults to `performance`); tests pass `{ now: () => Date.now() }` with fake timers. */
  clock?: Clock;
}

/**
 * An in-process LRU store with a per-entry TTL. Entries are kept as JSON text, so reads return
 * fresh copies (callers cannot mutate the cache) and behave exactly like the Redis store.
 * Expired entries are dropped lazily: when read, when they are the LRU victim, or on `purgeStale()`.
 */
export class MemoryStore implements CacheStore {
  private readonly lru: LRUCache<string, string>;
  private readonly listeners = new Listeners<{ eviction: EvictionEvent }>();
  private capacityEvictions = 0;
  private expiredEvictions = 0;
  private insertions = 0;

  constructor(options: MemoryStoreOptions) {
    const { max, clock } = options;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new CacheArgumentError(
        `max must be a positive integer, got ${String(max)}`,
      );
    }
    this.lru = new LRUCache<string, string>({
      max,
      ...(clock ? { perf: clock } : {}),
      // Counted from lru-cache's own hooks: disposeAfter runs once the entry is gone, so a
      // listener may safely touch the store again.
      disposeAfter: (_value, key, reason) => {
        if (reason === 'evict') this.onEvicted(key, 'capacity');
        else if (reason === 'expire') this.onEvicted(key, 'expired');
      },
      onInsert: (_value, _key, reason) => {
        if (reason === 'add') this.insertions += 1;
      },
    });
  }

  async get<T extends JsonValue = JsonValue>(
    key: string,
  ): Promise<T | undefined> {
    const text = this.lru.get(key);
    return text === undefined ? undefined : deserialise<T>(text);
  }

  async set(key: string, value: JsonValue, ttlMs: number): Promise<void> {
    const ttl = toTtlMs(ttlMs);
    this.lru.set(key, serialise(value), { ttl });
  }

  async delete(key: string): Promise<boolean> {
    return this.lru.delete(key);
  }

  /** Entries held, including expired ones not yet noticed (see `purgeStale`). */
  get size(): number {
    return this.lru.size;
  }

  /** Entries evicted because the store was full. */
  get evictions(): number {
    return this.capacityEvictions;
  }

  /** Entries dropped because their TTL had passed. */
  get expirations(): number {
    return this.expiredEvictions;
  }

  /** New keys stored (overwrites of a live key are not counted). */
  get inserts(): number {
    return this.insertions;
  }

  /** Drops every expired entry now; returns whether any was dropped. */
  purgeStale(): boolean {
    return this.lru.purgeStale();
  }

  /** Removes everything without counting evictions. */
  clear(): void {
    this.lru.clear();
  }

  onEviction(listener: (event: EvictionEvent) => void): Unsubscribe {
    return this.listeners.on('eviction', listener);
  }

  private onEvicted(key: string, reason: EvictionEvent['reason']): void {
    if (reason === 'capacity') this.capacityEvictions += 1;
    else this.expiredEvictions += 1;
    this.listeners.emit('eviction', { key, reason });
  }
}
