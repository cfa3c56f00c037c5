import { CacheArgumentError, isCacheArgumentError } from './cache.errors';
import { Listeners } from './cache.listeners';
import type {
  CacheStore,
  EvictionEvent,
  JsonValue,
  ProbeableStore,
  Unsubscribe,
  WaitBudget,
} from './cache.types';
import { serialise, toTtlMs } from './cache.values';

export interface FallbackStoreOptions {
  /** The shared store used while healthy, normally a RedisStore. */
  primary: ProbeableStore;
  /** Answers while degraded, normally a MemoryStore. */
  fallback: CacheStore;
  /** How often the primary is pinged while degraded, to notice recovery. Default 1000 ms. */
  probeIntervalMs?: number;
}

export interface DegradedChange {
  degraded: boolean;
  /** The primary's failure that caused the flip to degraded. */
  error?: unknown;
}

/**
 * Uses the primary store while it works and degrades to the fallback when a primary call fails
 * (or its guard refuses): that call and every later one answer from the fallback (reads are
 * fallback hits or misses, writes go to the fallback) until a background ping of the primary
 * succeeds again. Outages never reach the caller; only caller mistakes (bad TTL, a value that is
 * not JSON) are thrown, as a CacheArgumentError, in either mode.
 *
 * A request's `budget` bounds how long its calls wait on the primary; one with nothing left is
 * answered from the fallback without asking the primary (and without degrading the store).
 *
 * While degraded, deletes reach only the fallback, so an entry deleted then may be read from the
 * primary again after recovery until its TTL ends. A primary call that was already under way when
 * the store recovered does not flip it back to degraded when it fails late.
 */
export class FallbackStore implements CacheStore {
  private readonly primary: ProbeableStore;
  private readonly fallback: CacheStore;
  private readonly probeIntervalMs: number;
  private readonly listeners = new Listeners<{
    degradedChange: DegradedChange;
  }>();
  private isDegraded = false;
  // Bumped on every flip so a failure of a call started before the last flip is ignored.
  private epoch = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastFailure: unknown;

  constructor(options: FallbackStoreOptions) {
    this.primary = options.primary;
    this.fallback = options.fallback;
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    if (!Number.isFinite(this.probeIntervalMs) || this.probeIntervalMs <= 0) {
      throw new CacheArgumentError('probeIntervalMs must be a positive number');
    }
  }

  /** True while the primary is considered down and the fallback answers. */
  get degraded(): boolean {
    return this.isDegraded;
  }

  /** The primary failure behind the current degraded state, for readiness details. */
  get lastError(): unknown {
    return this.isDegraded ? this.lastFailure : undefined;
  }

  async get<T extends JsonValue = JsonValue>(
    key: string,
    budget?: WaitBudget,
  ): Promise<T | undefined> {
    const value = await this.tryPrimary(
      () => this.primary.get<T>(key, budget),
      budget,
    );
    if (value.ok) return value.result;
    return this.fallback.get<T>(key);
  }

  async set(
    key: string,
    value: JsonValue,
    ttlMs: number,
    budget?: WaitBudget,
  ): Promise<void> {
    // Checked here so a caller mistake is thrown the same way whichever store would answer.
    toTtlMs(ttlMs);
    serialise(value);
    const done = await this.tryPrimary(
      () => this.primary.set(key, value, ttlMs, budget),
      budget,
    );
    if (!done.ok) await this.fallback.set(key, value, ttlMs);
  }

  async delete(key: string): Promise<boolean> {
    // The fallback may hold a copy from an earlier outage; it must not come back in the next one.
    const local = await this.fallback.delete(key);
    const remote = await this.tryPrimary(() => this.primary.delete(key));
    return (remote.ok && remote.result) || local;
  }

  onEviction(listener: (event: EvictionEvent) => void): Unsubscribe {
    return this.fallback.onEviction?.(listener) ?? (() => undefined);
  }

  /** Subscribes to flips of `degraded`. */
  onDegradedChange(listener: (change: DegradedChange) => void): Unsubscribe {
    return this.listeners.on('degradedChange', listener);
  }

  /** Stops the recovery probe. The stores (and the Redis client) stay the caller's to close. */
  close(): void {
    this.closed = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  private async tryPrimary<T>(
    op: () => Promise<T>,
    budget?: WaitBudget,
  ): Promise<{ ok: true; result: T } | { ok: false }> {
    // Degraded: nothing waits on the primary (the probe notices recovery). A spent budget: this
    // request may not wait at all, which says nothing about the primary.
    if (this.isDegraded || budget?.exhausted) return { ok: false };
    const epoch = this.epoch;
    try {
      return { ok: true, result: await op() };
    } catch (error) {
      if (isCacheArgumentError(error)) throw error;
      this.markDegraded(epoch, error);
      return { ok: false };
    }
  }

  private markDegraded(epoch: number, error: unknown): void {
    if (epoch !== this.epoch || this.isDegraded) return;
    this.isDegraded = true;
    this.epoch += 1;
    this.lastFailure = error;
    this.listeners.emit('degradedChange', { degraded: true, error });
    this.scheduleProbe();
  }

  private markHealthy(): void {
    this.isDegraded = false;
    this.epoch += 1;
    this.lastFailure = undefined;
    this.listeners.emit('degradedChange', { degraded: false });
  }

  private scheduleProbe(): void {
    if (this.closed || this.probeTimer) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe();
    }, this.probeIntervalMs);
    // The probe alone must not keep the process alive.
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    try {
      await this.primary.ping();
    } catch (error) {
      this.lastFailure = error;
      this.scheduleProbe();
      return;
    }
    if (!this.closed && this.isDegraded) this.markHealthy();
  }
}
