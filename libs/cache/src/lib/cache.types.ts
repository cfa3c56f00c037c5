/** A value that survives a JSON round trip unchanged: what every cache store holds. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Monotonic milliseconds; `performance` satisfies it, tests pass a fake. */
export interface Clock {
  now(): number;
}

/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;

/**
 * Runs one backend call, e.g. through a circuit breaker. It must call `op` at most once and
 * settle with its result, or reject without calling it (breaker open).
 */
export type Guard = <T>(op: () => Promise<T>) => Promise<T>;

/**
 * How long one request may still wait on a shared store, across all its calls: `RedisBudget`
 * from `@ml/redis` satisfies it (kept structural so this lib stays free of Redis).
 */
export interface WaitBudget {
  /** Nothing left: the store must not be asked. */
  readonly exhausted: boolean;
  /** Runs one store call, charging its wait and cutting it short when the budget runs out. */
  run<T>(call: () => Promise<T>): Promise<T>;
}

/**
 * Why an entry left a store on its own: `capacity` when the store was full and it was the least
 * recently used, `expired` when its TTL had passed and the store noticed it (on access or purge).
 */
export type EvictionReason = 'capacity' | 'expired';

export interface EvictionEvent {
  key: string;
  reason: EvictionReason;
}

/**
 * A key/value store for JSON values with a per-entry TTL. Implementations keep what `set` was
 * given as its JSON form, so a value read back is a copy, equal to it after a JSON round trip.
 */
export interface CacheStore {
  /**
   * The value under `key`, or `undefined` when there is none (or it expired). A shared store
   * waits on its backend no longer than `budget` allows; a local one ignores it.
   */
  get<T extends JsonValue = JsonValue>(key: string, budget?: WaitBudget): Promise<T | undefined>;
  /** Stores `value` under `key` for `ttlMs` milliseconds (a positive finite number); `budget` as for `get`. */
  set(key: string, value: JsonValue, ttlMs: number, budget?: WaitBudget): Promise<void>;
  /** Removes `key`; resolves to whether an entry was there. */
  delete(key: string): Promise<boolean>;
  /** Entries held in this process, where the store can tell without a round trip. */
  readonly size?: number;
  /** Subscribes to entries leaving on their own, where the store can see that. */
  onEviction?(listener: (event: EvictionEvent) => void): Unsubscribe;
}

/** A store with a cheap health check, used by {@link FallbackStore} to notice recovery. */
export interface ProbeableStore extends CacheStore {
  ping(): Promise<void>;
}
