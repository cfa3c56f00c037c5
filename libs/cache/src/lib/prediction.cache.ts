import { Listeners } from './cache.listeners';
import { predictionKey } from './cache.key';
import { CacheArgumentError } from './cache.errors';
import type {
  CacheStore,
  EvictionReason,
  JsonValue,
  Unsubscribe,
  WaitBudget,
} from './cache.types';
import { toTtlMs } from './cache.values';

export interface PredictionCacheOptions {
  /** Names this cache in stats and events, e.g. `predictions`. */
  name: string;
  store: CacheStore;
  /**
   * Told when an event listener throws (the lookup itself goes on). Defaults to a process
   * warning of type `CacheListenerError`.
   */
  onListenerError?: (error: unknown) => void;
}

export interface CacheResult<T> {
  value: T;
  /** True when the value came from the store; false when it was computed by this call or a concurrent one. */
  cached: boolean;
}

export interface CacheStats {
  name: string;
  hits: number;
  misses: number;
  /** Entries the store dropped because it was full. */
  evictions: number;
  /** Entries the store dropped because their TTL had passed. */
  expirations: number;
  /** Entries held in this process, or null when the store cannot tell (a shared store). */
  size: number | null;
  /** hits / (hits + misses); 0 before the first lookup. */
  hitRate: number;
}

/** Events a metrics layer can subscribe to; every payload names the cache. */
export interface PredictionCacheEvents {
  hit: { cache: string; key: string };
  /** `shared` when this call joined a compute already under way for the key. */
  miss: { cache: string; key: string; shared: boolean };
  eviction: { cache: string; key: string; reason: EvictionReason };
  /** A store read or write failed; the call went on as a miss / without caching. */
  storeError: {
    cache: string;
    key: string;
    operation: 'get' | 'set';
    error: unknown;
  };
}

/**
 * The gateway's prediction-response cache: a read-through cache over a CacheStore with in-process
 * single-flight. It counts hits and misses and relays the store's evictions as events, and knows
 * nothing of how they are exported.
 *
 * Caching is best-effort: if the store fails (use a FallbackStore to avoid most of that), a read
 * counts as a miss and a failed write is reported as `storeError`; neither fails the call.
 */
export class PredictionCache {
  readonly name: string;
  private readonly store: CacheStore;
  private readonly listeners: Listeners<PredictionCacheEvents>;
  private readonly inflight = new Map<string, Promise<JsonValue>>();
  /** Values computed whose store write has not settled yet, with the sequence number they got. */
  private readonly computed = new Map<string, { value: JsonValue; at: number }>();
  private sequence = 0;
  private readonly unsubscribeStore: Unsubscribe;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private expirations = 0;

  constructor(options: PredictionCacheOptions) {
    if (typeof options.name !== 'string' || options.name === '') {
      throw new CacheArgumentError('name must be a non-empty string');
    }
    this.name = options.name;
    this.store = options.store;
    this.listeners = new Listeners(options.onListenerError);
    this.unsubscribeStore =
      this.store.onEviction?.(({ key, reason }) => {
        if (reason === 'capacity') this.evictions += 1;
        else this.expirations += 1;
        this.listeners.emit('eviction', { cache: this.name, key, reason });
      }) ?? (() => undefined);
  }

  /**
   * The key of a prediction: sha256 hex of the canonical JSON of `[model, version, input]`
   * (object keys sorted at every depth). Normalise `input` before calling: only key order is
   * made irrelevant here, so `" a"` and `"a"`, or `1` and `1.0000001`, give different keys.
   */
  key(model: string, version: string, input: unknown): string {
    return predictionKey(model, version, input);
  }

  /**
   * Returns the cached value under `key`, or runs `compute`, stores its result for `ttlMs` and
   * returns it. Concurrent calls for a key that is not cached share one run of `compute` (the
   * first caller's `ttlMs` applies) and all get `cached: false`. A rejection of `compute` is
   * never cached: every waiting caller gets it, and the next call computes again.
   *
   * The store read waits no longer than `budget` allows (a spent budget reads the store's degraded
   * path, normally a miss). The write after a miss never delays the answer: it runs in the
   * background (issued before this call resolves, so a later read finds it) and its failure is
   * reported as `storeError` (a FallbackStore degrades on it).
   */
  async getOrCompute<T extends JsonValue>(
    key: string,
    compute: () => Promise<T>,
    ttlMs: number,
    budget?: WaitBudget,
  ): Promise<CacheResult<T>> {
    toTtlMs(ttlMs);
    const joined = this.join<T>(key);
    if (joined) return joined;

    const readFrom = ++this.sequence;
    const found = await this.read<T>(key, budget);
    if (found !== undefined) {
      this.hits += 1;
      this.listeners.emit('hit', { cache: this.name, key });
      return { value: found, cached: true };
    }
    // Another caller may have started computing while we were reading the store, or finished
    // after our read was sent (its write not yet visible to that read): share its result.
    const done = this.computed.get(key);
    if (done && done.at > readFrom) {
      this.countMiss(key, true);
      return { value: done.value as T, cached: false };
    }
    return this.join<T>(key) ?? this.start(key, compute, ttlMs);
  }

  /** Removes a cached prediction (e.g. after a model was found faulty). */
  async invalidate(key: string): Promise<boolean> {
    return this.store.delete(key);
  }

  stats(): CacheStats {
    const lookups = this.hits + this.misses;
    return {
      name: this.name,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      expirations: this.expirations,
      size: this.store.size ?? null,
      hitRate: lookups === 0 ? 0 : this.hits / lookups,
    };
  }

  on<E extends keyof PredictionCacheEvents>(
    event: E,
    listener: (payload: PredictionCacheEvents[E]) => void,
  ): Unsubscribe {
    return this.listeners.on(event, listener);
  }

  /** Stops relaying the store's evictions; the store itself stays the caller's. */
  close(): void {
    this.unsubscribeStore();
  }

  private join<T>(key: string): Promise<CacheResult<T>> | undefined {
    const flight = this.inflight.get(key);
    if (!flight) return undefined;
    this.countMiss(key, true);
    return flight.then((value) => ({ value: value as T, cached: false }));
  }

  private async start<T extends JsonValue>(
    key: string,
    compute: () => Promise<T>,
    ttlMs: number,
  ): Promise<CacheResult<T>> {
    this.countMiss(key, false);
    // The entry leaves inside the flight, before any waiter resumes, so no call can join a
    // flight that has already failed.
    const flight: Promise<T> = this.computeThenStore(
      key,
      compute,
      ttlMs,
    ).finally(() => {
      if (this.inflight.get(key) === flight) this.inflight.delete(key);
    });
    this.inflight.set(key, flight);
    return { value: await flight, cached: false };
  }

  private async computeThenStore<T extends JsonValue>(
    key: string,
    compute: () => Promise<T>,
    ttlMs: number,
  ): Promise<T> {
    const value = await compute();
    // Fire and forget: the prediction is good even if it cannot be kept (outage, or a value JSON
    // cannot carry), and the caller must never wait on the store's write. The write is issued
    // now, so a later read of this process (same connection, same order) finds it; until it has
    // settled the value is kept for callers whose store read was already on its way.
    const entry = { value: value as JsonValue, at: ++this.sequence };
    this.computed.set(key, entry);
    const forget = () => {
      if (this.computed.get(key) === entry) this.computed.delete(key);
    };
    void this.write(key, value, ttlMs).finally(forget);
    return value;
  }

  private async write(key: string, value: JsonValue, ttlMs: number): Promise<void> {
    try {
      await this.store.set(key, value, ttlMs);
    } catch (error) {
      this.listeners.emit('storeError', {
        cache: this.name,
        key,
        operation: 'set',
        error,
      });
    }
  }

  private async read<T extends JsonValue>(
    key: string,
    budget?: WaitBudget,
  ): Promise<T | undefined> {
    try {
      return await this.store.get<T>(key, budget);
    } catch (error) {
      this.listeners.emit('storeError', {
        cache: this.name,
        key,
        operation: 'get',
        error,
      });
      return undefined;
    }
  }

  private countMiss(key: string, shared: boolean): void {
    this.misses += 1;
    this.listeners.emit('miss', { cache: this.name, key, shared });
  }
}
