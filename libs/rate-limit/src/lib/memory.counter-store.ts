import { RateLimitConfigError } from './rate-limit.errors';
import type { Clock, ConsumeResult, CounterStore } from './rate-limit.types';

export interface MemoryCounterStoreOptions {
  /**
   * Most trackers held at once. When full, the window closest to its end is dropped to make room
   * (that tracker starts afresh), so memory has a hard ceiling even under a flood of new
   * addresses. Default 250 000 (about 300 bytes each, so roughly 75 MB at worst).
   */
  maxKeys?: number;
  /** How often expired windows are dropped when no traffic does it. Default 1000 ms. */
  sweepIntervalMs?: number;
  clock?: Clock;
}

interface Entry {
  count: number;
  resetAt: number;
}

const monotonic: Clock = { now: () => performance.now() };
/** Expired windows dropped per new tracker, so traffic itself keeps the map clean between sweeps. */
const SWEEP_PER_INSERT = 4;

/**
 * Fixed-window counters in process memory, one Map entry per tracker with a live window.
 *
 * A window is (re)inserted when it starts, so the Map's insertion order is the order in which
 * windows end (every key gets the same window length): expired entries are always at the front
 * and a sweep touches only those, plus one live entry where it stops.
 */
export class MemoryCounterStore implements CounterStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;
  private readonly clock: Clock;
  private readonly timer: NodeJS.Timeout;
  private evictedLive = 0;

  constructor(options: MemoryCounterStoreOptions = {}) {
    this.maxKeys = options.maxKeys ?? 250_000;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1) {
      throw new RateLimitConfigError(`memory maxKeys must be an integer >= 1, got ${options.maxKeys}`);
    }
    const sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    if (!(sweepIntervalMs > 0)) throw new RateLimitConfigError(`sweepIntervalMs must be > 0, got ${sweepIntervalMs}`);
    this.clock = options.clock ?? monotonic;
    this.timer = setInterval(() => this.sweep(), sweepIntervalMs);
    // The sweep alone must not keep the process alive.
    this.timer.unref();
  }

  /** Trackers currently held. */
  get size(): number {
    return this.entries.size;
  }

  /** Live windows dropped because `maxKeys` was reached (each let one tracker start afresh). */
  get evictions(): number {
    return this.evictedLive;
  }

  async consume(key: string, cost: number, limit: number, windowMs: number): Promise<ConsumeResult> {
    return this.consumeNow(key, cost, limit, windowMs);
  }

  /** The synchronous core of `consume`. */
  consumeNow(key: string, cost: number, limit: number, windowMs: number): ConsumeResult {
    const now = this.clock.now();
    let entry = this.entries.get(key);
    if (entry && entry.resetAt <= now) {
      this.entries.delete(key);
      entry = undefined;
    }
    if (!entry) {
      // A request that could never fit is refused without taking a slot in the map.
      if (cost > limit) return { allowed: false, count: 0, resetMs: windowMs };
      this.makeRoom(now);
      entry = { count: 0, resetAt: now + windowMs };
      this.entries.set(key, entry);
    }
    const resetMs = entry.resetAt - now;
    if (entry.count + cost > limit) return { allowed: false, count: entry.count, resetMs };
    entry.count += cost;
    return { allowed: true, count: entry.count, resetMs };
  }

  /**
   * Takes over a count the shared store reported for `key` (its window ends in `resetMs`), so that
   * if the shared store goes away this process carries on from what was spent rather than from 0.
   * The same window is updated in place; a new one is (re)inserted, keeping windows in end order.
   */
  remember(key: string, count: number, resetMs: number): void {
    const now = this.clock.now();
    const resetAt = now + Math.max(0, resetMs);
    const entry = this.entries.get(key);
    // Within a few ms of the stored end: the same window (Redis reports whole milliseconds).
    if (entry && entry.resetAt > now && Math.abs(entry.resetAt - resetAt) < 50) {
      entry.count = count;
      return;
    }
    if (entry) this.entries.delete(key);
    else this.makeRoom(now);
    this.entries.set(key, { count, resetAt });
  }

  /** Drops every window that has ended. */
  sweep(): void {
    this.dropExpired(this.clock.now(), Infinity);
  }

  /** Stops the sweep timer and forgets every counter. */
  close(): void {
    clearInterval(this.timer);
    this.entries.clear();
  }

  private makeRoom(now: number): void {
    this.dropExpired(now, SWEEP_PER_INSERT);
    while (this.entries.size >= this.maxKeys) {
      // The oldest window ends first: dropping it frees the slot its owner would need soonest anyway.
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evictedLive++;
    }
  }

  private dropExpired(now: number, max: number): void {
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if (entry.resetAt > now || dropped >= max) return;
      this.entries.delete(key);
      dropped++;
    }
  }
}
