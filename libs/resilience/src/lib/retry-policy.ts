import { isBrokenCircuitError } from './resilience.errors';
import { Listeners } from './resilience.listeners';
import { sleep, toContext } from './resilience.clock';
import type { RetryBudget } from './retry-budget';
import type { CallContext, Listener, Operation, Policy, Unsubscribe } from './resilience.types';
import { nonNegative, positive, positiveInt } from './resilience.validate';

export interface RetryOptions {
  /** Tries in total, the first included. Default 3. */
  maxAttempts?: number;
  /** Backoff ceiling for the first retry; doubles per retry. Default 100 ms. */
  baseDelayMs?: number;
  /** Cap on the backoff ceiling. Default 2 000 ms. */
  maxDelayMs?: number;
  /**
   * Whether to retry after `attempt` (1-based) failed with `error`.
   * Default: any error except BrokenCircuitError (an open breaker will not heal within a backoff).
   */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** An upstream asking to wait longer than this (retryAfterMs / retryAfterSeconds) is not retried. Default 30 000 ms. */
  maxRetryAfterMs?: number;
  /** Uniform in [0, 1). Default Math.random. */
  random?: () => number;
  /** Shared budget that can refuse retries; when it does, the last error is thrown. */
  budget?: RetryBudget;
}

export interface RetryEvent {
  /** The attempt that failed (1-based); the retry will be attempt + 1. */
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface BudgetExhaustedEvent {
  attempt: number;
  error: unknown;
}

/**
 * Full-jitter backoff for retry number `retry` (0 for the first retry): random() * min(cap, base * 2^retry),
 * in whole milliseconds (timers have no finer resolution).
 */
export function backoffDelay(retry: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** retry));
}

/** The wait an error asks for (`retryAfterMs`, else `retryAfterSeconds`), if it carries a usable one. */
export function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { retryAfterMs, retryAfterSeconds } = error as { retryAfterMs?: unknown; retryAfterSeconds?: unknown };
  // Rounded up: waiting a fraction of a millisecond too little would be retrying too early.
  if (typeof retryAfterMs === 'number' && retryAfterMs >= 0 && Number.isFinite(retryAfterMs)) return Math.ceil(retryAfterMs);
  if (typeof retryAfterSeconds === 'number' && retryAfterSeconds >= 0 && Number.isFinite(retryAfterSeconds))
    return Math.ceil(retryAfterSeconds * 1000);
  return undefined;
}

/**
 * Retries failed attempts with exponential backoff and full jitter. Never sleeps past the deadline in
 * the call context: when the next wait would reach it, the last error is thrown at once.
 */
export class RetryPolicy implements Policy {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly shouldRetry: (error: unknown, attempt: number) => boolean;
  private readonly random: () => number;
  private readonly budget: RetryBudget | undefined;
  private readonly retry = new Listeners<RetryEvent>();
  private readonly budgetExhausted = new Listeners<BudgetExhaustedEvent>();

  constructor(options: RetryOptions = {}) {
    this.maxAttempts = positiveInt('maxAttempts', options.maxAttempts ?? 3);
    this.baseDelayMs = nonNegative('baseDelayMs', options.baseDelayMs ?? 100);
    this.maxDelayMs = nonNegative('maxDelayMs', options.maxDelayMs ?? 2_000);
    this.maxRetryAfterMs = positive('maxRetryAfterMs', options.maxRetryAfterMs ?? 30_000);
    this.shouldRetry = options.shouldRetry ?? ((error) => !isBrokenCircuitError(error));
    this.random = options.random ?? Math.random;
    this.budget = options.budget;
  }

  /**
   * Runs `fn` until it succeeds or a retry is not allowed, then throws the last error (or the
   * caller's abort reason if the caller aborts during a backoff).
   */
  async execute<T>(fn: Operation<T>, ctx?: Partial<CallContext>): Promise<T> {
    const context = toContext(ctx);
    this.budget?.recordCall();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn({ ...context, attempt });
      } catch (error) {
        const delayMs = this.delayBeforeRetry(error, attempt, context);
        if (delayMs === undefined) throw error;
        this.retry.emit({ attempt, delayMs, error });
        await sleep(delayMs, context.signal);
      }
    }
  }

  onRetry(listener: Listener<RetryEvent>): Unsubscribe {
    return this.retry.add(listener);
  }

  onBudgetExhausted(listener: Listener<BudgetExhaustedEvent>): Unsubscribe {
    return this.budgetExhausted.add(listener);
  }

  /** The wait before retrying, or undefined when this failure is final. The budget is asked last so refused retries cost nothing. */
  private delayBeforeRetry(error: unknown, attempt: number, ctx: CallContext): number | undefined {
    if (attempt >= this.maxAttempts || ctx.signal.aborted || !this.shouldRetry(error, attempt)) return undefined;
    const requested = retryAfterOf(error);
    if (requested !== undefined && requested > this.maxRetryAfterMs) return undefined;
    const delayMs = requested ?? backoffDelay(attempt - 1, this.baseDelayMs, this.maxDelayMs, this.random);
    // Waiting until (or past) the deadline would leave the next attempt no time at all.
    if (ctx.deadline && delayMs >= ctx.deadline.remainingMs()) return undefined;
    if (this.budget && !this.budget.tryAcquire()) {
      this.budgetExhausted.emit({ attempt, error });
      return undefined;
    }
    return delayMs;
  }
}
