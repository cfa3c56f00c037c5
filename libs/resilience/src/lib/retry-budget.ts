import { systemClock } from './resilience.clock';
import { RollingWindow } from './rolling-window';
import type { Clock } from './resilience.types';
import { nonNegative, positive, positiveInt, ratio } from './resilience.validate';

export interface RetryBudgetOptions {
  /** Retries allowed as a share of the calls seen in the window. Default 0.2. */
  ratio?: number;
  /** Retries allowed per second regardless of traffic, so a quiet upstream can still be retried. Default 10. */
  minPerSecond?: number;
  /** How far back calls and retries are remembered. Default 10 000 ms. */
  windowMs?: number;
  /** Time slices the window is kept in. Default 10. */
  windowBuckets?: number;
  clock?: Clock;
}

const CALLS = 0;
const RETRIES = 1;

/**
 * Caps retries to `ratio` of recent calls plus `minPerSecond` (as in Finagle's RetryBudget), so a
 * struggling upstream sees at most ~(1 + ratio)x its normal load instead of maxAttempts x.
 * Share one budget among the retry policies of an upstream (or of the whole gateway).
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly reserve: number;
  private readonly window: RollingWindow;

  constructor(options: RetryBudgetOptions = {}) {
    const windowMs = positive('windowMs', options.windowMs ?? 10_000);
    this.ratio = ratio('ratio', options.ratio ?? 0.2);
    this.reserve = nonNegative('minPerSecond', options.minPerSecond ?? 10) * (windowMs / 1000);
    this.window = new RollingWindow(
      windowMs,
      positiveInt('windowBuckets', options.windowBuckets ?? 10),
      2,
      options.clock ?? systemClock,
    );
  }

  /** Counts one logical call (its first attempt); each call earns `ratio` of a retry. */
  recordCall(): void {
    this.window.add(CALLS);
  }

  /** Takes one retry from the budget; false (and nothing taken) when the budget is spent. */
  tryAcquire(): boolean {
    if (this.available() < 1) return false;
    this.window.add(RETRIES);
    return true;
  }

  /** Whole retries the budget would grant right now. */
  available(): number {
    const allowed = this.ratio * this.window.sum(CALLS) + this.reserve;
    // The epsilon absorbs float error in ratio * calls (0.2 * 5 must allow exactly 1).
    return Math.max(0, Math.floor(allowed - this.window.sum(RETRIES) + 1e-9));
  }
}
