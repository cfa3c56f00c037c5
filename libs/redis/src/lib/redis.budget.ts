/** Monotonic milliseconds; injected so tests can move time. */
export interface BudgetClock {
  now(): number;
}

const monotonic: BudgetClock = { now: () => performance.now() };

/** A Redis call refused, or cut short, because its request had spent its Redis budget. */
export class RedisBudgetExceededError extends Error {
  readonly code = 'REDIS_BUDGET_EXCEEDED';
  constructor(
    /** The request's whole budget. */
    readonly budgetMs: number,
    /** True when the call was never sent (nothing was left); false when it was cut short. */
    readonly refused: boolean,
  ) {
    super(refused ? `Redis budget of ${budgetMs} ms already spent; call not sent` : `Redis call cut short: budget of ${budgetMs} ms spent`);
    this.name = 'RedisBudgetExceededError';
  }
}

export function isRedisBudgetExceededError(error: unknown): error is RedisBudgetExceededError {
  return error instanceof RedisBudgetExceededError;
}

/**
 * How long one request may wait on Redis, in total, across all its Redis calls (the contract's
 * REDIS_COMMAND_TIMEOUT_MS). Created per request and handed to every store call the request makes.
 *
 * Time is charged only while at least one of the request's Redis calls is pending (overlapping
 * calls are charged once), so the budget starts at the first Redis call and never pays for the
 * model, the upstream or a lock between two calls: an anomaly request reads, scores (which may
 * queue for a while under load) and then writes, and a deadline fixed at its first read would
 * skip write-backs under load with Redis healthy. What it bounds is what the contract promises:
 * the time a request spends waiting on Redis.
 *
 * Plain object, no AsyncLocalStorage (promise hooks cost ~9% of the gateway's throughput).
 */
export class RedisBudget {
  readonly totalMs: number;
  private readonly clock: BudgetClock;
  /** Time charged by waits that have ended. */
  private spentMs = 0;
  /** Calls now pending; time is charged while it is above 0. */
  private pending = 0;
  /** When `pending` last went from 0 to 1. */
  private waitingSince = 0;
  /**
   * Set when a call was cut for lack of budget: nothing is left then, whatever the clock says (a
   * timer may fire a fraction of a millisecond before the clock reaches the cut).
   */
  private cut = false;

  constructor(totalMs: number, clock: BudgetClock = monotonic) {
    if (!(totalMs > 0) || !Number.isFinite(totalMs)) throw new RangeError(`RedisBudget: totalMs must be a positive finite number, got ${totalMs}`);
    this.totalMs = totalMs;
    this.clock = clock;
  }

  /** Milliseconds still to spend (the wait under way included); never negative. */
  remainingMs(): number {
    if (this.cut) return 0;
    const current = this.pending > 0 ? this.clock.now() - this.waitingSince : 0;
    return Math.max(0, this.totalMs - this.spentMs - current);
  }

  /** True once nothing is left: the request's next Redis call must not be sent. */
  get exhausted(): boolean {
    return this.remainingMs() <= 0;
  }

  /** Milliseconds spent so far (the wait under way included). */
  get spentMsSoFar(): number {
    return this.totalMs - this.remainingMs();
  }

  /**
   * Runs one Redis call of the request, charging the time it is pending. The call is abandoned
   * (rejected with a RedisBudgetExceededError, `refused: false`) if it has not settled when the
   * budget runs out, and its late result is dropped; a shorter timeout of its own is its own to
   * enforce. With nothing left it is not started at all (`refused: true`).
   */
  run<T>(call: () => Promise<T>): Promise<T> {
    const remaining = this.remainingMs();
    if (remaining <= 0) return Promise.reject(new RedisBudgetExceededError(this.totalMs, true));
    this.begin();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = () => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        this.end();
        return true;
      };
      const timer = setTimeout(() => {
        if (!finish()) return;
        this.cut = true;
        reject(new RedisBudgetExceededError(this.totalMs, false));
      }, Math.max(1, Math.ceil(remaining)));
      let started: Promise<T>;
      try {
        started = call();
      } catch (error) {
        started = Promise.reject(error);
      }
      started.then(
        (value) => {
          if (finish()) resolve(value);
        },
        (error: unknown) => {
          if (finish()) reject(error);
        },
      );
    });
  }

  private begin(): void {
    if (this.pending++ === 0) this.waitingSince = this.clock.now();
  }

  private end(): void {
    if (--this.pending === 0) this.spentMs += this.clock.now() - this.waitingSince;
  }
}

const budgets = new WeakMap<object, RedisBudget>();

/**
 * The Redis budget of a request (any object that lives as long as the request, e.g. the Fastify
 * request): created on the first call that passes `totalMs`, then shared by every later caller.
 * Without `totalMs` it only returns one made earlier. A WeakMap rather than a property keeps the
 * request object's shape (and Fastify's hidden class) unchanged.
 */
export function redisBudgetOf(request: object, totalMs?: number): RedisBudget | undefined {
  let budget = budgets.get(request);
  if (!budget && totalMs !== undefined) {
    budget = new RedisBudget(totalMs);
    budgets.set(request, budget);
  }
  return budget;
}
