import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { isRedisBudgetExceededError, type RedisBudget, type RedisClient } from '@ml/redis';
import { CircuitBreaker, TimeoutPolicy, wrap, type Policy } from '@ml/resilience';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { Listeners } from './rate-limit.listeners';
import { MemoryCounterStore, type MemoryCounterStoreOptions } from './memory.counter-store';
import { RateLimitConfigError } from './rate-limit.errors';
import { RedisCounterStore } from './redis.counter-store';
import {
  secondsUntilReset,
  type ConsumeResult,
  type DegradedListener,
  type RejectionEvent,
  type RejectionListener,
  type Unsubscribe,
} from './rate-limit.types';

/** Settings of the rate limiter; `requests` and `windowSeconds` usually come from `loadRateLimitConfig`. */
export interface RateLimitOptions {
  /** Units each client may spend per window. */
  requests: number;
  /** Window length in whole seconds. */
  windowSeconds: number;
  /**
   * Shared counters for all replicas. The client is the caller's (created with
   * `enableOfflineQueue: false` and a `commandTimeout`; this lib never connects or quits it).
   * Without it, limits are per process.
   */
  redis?: RedisClient;
  /** Prefix of every Redis key. Default `ml:rl:`. */
  keyPrefix?: string;
  /** Called on every flip of `degraded` (Redis lost / back). */
  onDegradedChange?: DegradedListener;
  /** Called for every refused request. */
  onRejected?: RejectionListener;
  /**
   * Longest a Redis call may take before the request falls back to memory, and the Redis budget
   * the guard gives each request (shared with the request's other Redis calls). Default 200 ms.
   */
  redisTimeoutMs?: number;
  /** Guards every Redis call; pass one to watch its state. Default: opens after 3 failures in 10 s, for 2 s. */
  breaker?: CircuitBreaker;
  /** How often Redis is pinged while degraded, so an idle process recovers too. Default 1000 ms. */
  probeIntervalMs?: number;
  /** Bounds of the in-memory counters (used without Redis, and while degraded). */
  memory?: MemoryCounterStoreOptions;
}

/** Which store answered: `redis` means the limit is shared by all replicas. */
export type ConsumeOutcome = ConsumeResult & { shared: boolean };

/**
 * The rate limiter's state: counters (Redis when given and healthy, else process memory), the
 * `degraded` flag and the event hooks. It is also the ThrottlerStorage given to @nestjs/throttler.
 *
 * Every Redis call runs through a circuit breaker and a timeout, and within the request's Redis
 * budget when one is given. A call that fails (or that the breaker refuses, or that the budget
 * cuts short) is answered from memory instead, and the limiter is then degraded: requests no
 * longer call Redis at all (no request waits on a Redis that just failed) and limits are per
 * process until the background PING succeeds again. A request whose budget is already spent is
 * counted in memory without touching Redis or the degraded state.
 *
 * The memory counters follow the shared ones while Redis answers (each answer's count is
 * remembered), so during an outage or failover a replica lets a client spend at most what it had
 * left when this replica last heard from Redis, not a fresh limit: a client over its limit stays
 * limited. Increments charged in memory are not written back to Redis when it returns.
 */
export class RateLimitService implements ThrottlerStorage, OnModuleDestroy {
  /** The policy name in the RateLimit headers. */
  readonly policyName = 'default';
  readonly limit: number;
  readonly windowSeconds: number;
  /** The Redis budget per request (REDIS_COMMAND_TIMEOUT_MS); undefined without Redis. */
  readonly redisBudgetMs: number | undefined;
  private readonly memory: MemoryCounterStore;
  private readonly redis: RedisCounterStore | undefined;
  private readonly pipeline: Policy;
  private readonly probeIntervalMs: number;
  private readonly logger = new Logger('RateLimit');
  private readonly degradedListeners = new Listeners<[boolean, unknown?]>(this.logger);
  private readonly rejectionListeners = new Listeners<[RejectionEvent]>(this.logger);
  private isDegraded = false;
  // Bumped on every flip, so a call that started before the last flip cannot flip it back.
  private epoch = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: RateLimitOptions) {
    const { requests, windowSeconds } = options;
    if (!Number.isInteger(requests) || requests < 1) throw new RateLimitConfigError(`requests must be an integer >= 1, got ${requests}`);
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1) {
      throw new RateLimitConfigError(`windowSeconds must be an integer >= 1, got ${windowSeconds}`);
    }
    this.limit = requests;
    this.windowSeconds = windowSeconds;
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    if (!(this.probeIntervalMs > 0)) throw new RateLimitConfigError(`probeIntervalMs must be > 0, got ${this.probeIntervalMs}`);
    this.memory = new MemoryCounterStore(options.memory);
    this.redis = options.redis ? new RedisCounterStore({ client: options.redis, keyPrefix: options.keyPrefix ?? 'ml:rl:' }) : undefined;
    const breaker = options.breaker ?? new CircuitBreaker({ name: 'rate-limit-redis', failureThreshold: 3, windowMs: 10_000, openMs: 2_000 });
    const timeoutMs = options.redisTimeoutMs ?? 200;
    this.pipeline = wrap(breaker, new TimeoutPolicy({ perTryMs: timeoutMs }));
    this.redisBudgetMs = this.redis ? timeoutMs : undefined;
    if (options.onDegradedChange) this.onDegradedChange(options.onDegradedChange);
    if (options.onRejected) this.onRejected(options.onRejected);
  }

  /** True while Redis is configured but unusable, so each process enforces its own limits. */
  get degraded(): boolean {
    return this.isDegraded;
  }

  /** Where the counters live now: `redis`, `memory` (no Redis configured) or `memory-fallback`. */
  get mode(): 'redis' | 'memory' | 'memory-fallback' {
    if (!this.redis) return 'memory';
    return this.isDegraded ? 'memory-fallback' : 'redis';
  }

  /** Subscribes to flips of `degraded` (for readiness details and a gauge). */
  onDegradedChange(listener: DegradedListener): Unsubscribe {
    return this.degradedListeners.add(listener);
  }

  /** Subscribes to refused requests (for `ml_rate_limit_rejections_total`). */
  onRejected(listener: RejectionListener): Unsubscribe {
    return this.rejectionListeners.add(listener);
  }

  /**
   * Charges `cost` units to `key` if they fit under `limit` in the current window of `windowMs`.
   * Never rejects because of Redis: an unusable Redis means memory answers. With a `budget`, the
   * Redis call waits no longer than the request has left (and not at all when nothing is left).
   */
  async consume(key: string, cost: number, limit = this.limit, windowMs = this.windowSeconds * 1000, budget?: RedisBudget): Promise<ConsumeOutcome> {
    const redis = this.redis;
    if (redis && !this.isDegraded && !budget?.exhausted) {
      const epoch = this.epoch;
      const call = () => this.pipeline.execute(() => redis.consume(key, cost, limit, windowMs));
      try {
        const result = await (budget ? budget.run(call) : call());
        // The shared count is this process's starting point should Redis go away (a failover):
        // a client that had spent its limit stays limited instead of starting afresh per replica.
        this.memory.remember(key, result.count, result.resetMs);
        this.setDegraded(false, epoch);
        return { ...result, shared: true };
      } catch (error) {
        // Refused for lack of budget: nothing was asked of Redis, so nothing is known about it.
        if (!(isRedisBudgetExceededError(error) && error.refused)) this.setDegraded(true, epoch, error);
      }
    }
    return { ...this.memory.consumeNow(key, cost, limit, windowMs), shared: false };
  }

  /** ThrottlerStorage: one unit per call; `ttl` is the window in ms. Blocking lasts until the window ends. */
  async increment(key: string, ttl: number, limit: number, _blockDuration: number, _throttlerName: string) {
    const r = await this.consume(key, 1, limit, ttl);
    const seconds = secondsUntilReset(r.resetMs);
    return {
      totalHits: r.allowed ? r.count : r.count + 1,
      timeToExpire: seconds,
      isBlocked: !r.allowed,
      timeToBlockExpire: r.allowed ? 0 : Math.max(1, seconds),
    };
  }

  /** Tells the rejection listeners about a refused request (called by the guard). */
  notifyRejected(event: RejectionEvent): void {
    this.rejectionListeners.emit(event);
  }

  /** Stops the background work. The Redis client stays open: it belongs to the caller. */
  close(): void {
    this.closed = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.memory.close();
  }

  onModuleDestroy(): void {
    this.close();
  }

  private setDegraded(degraded: boolean, epoch: number, cause?: unknown): void {
    if (degraded === this.isDegraded || epoch !== this.epoch || this.closed) return;
    this.isDegraded = degraded;
    this.epoch++;
    if (degraded) {
      this.logger.warn({
        msg: 'Redis is unavailable for rate limiting; limits are now per process until it answers again',
        err: cause instanceof Error ? cause.message : String(cause),
      });
      this.scheduleProbe();
    } else {
      this.logger.log({ msg: 'Redis answers again; rate limits are shared across replicas' });
      if (this.probeTimer) clearTimeout(this.probeTimer);
      this.probeTimer = undefined;
    }
    this.degradedListeners.emit(degraded, cause);
  }

  private scheduleProbe(): void {
    if (this.closed || this.probeTimer || !this.isDegraded) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe();
    }, this.probeIntervalMs);
    // The probe alone must not keep the process alive.
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    const redis = this.redis;
    if (!redis || !this.isDegraded || this.closed) return;
    const epoch = this.epoch;
    try {
      await this.pipeline.execute(() => redis.ping());
    } catch {
      this.scheduleProbe();
      return;
    }
    this.setDegraded(false, epoch);
  }
}
