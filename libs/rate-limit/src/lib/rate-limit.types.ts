/** Who a request is counted against: an authenticated API key, else the client address. */
export interface Tracker {
  kind: 'key' | 'ip';
  /** The API key's name, or the client IP (IPv6 grouped by /64 so one host cannot rotate addresses). */
  name: string;
}

/** The outcome of charging a request to its tracker's window. */
export interface ConsumeResult {
  /** False when the cost did not fit in what was left; nothing was charged then. */
  allowed: boolean;
  /** Units used in the current window after this request (before it, when refused). */
  count: number;
  /** Milliseconds until the current window ends and the count starts again from zero. */
  resetMs: number;
}

/** A counter store with fixed windows: charges `cost` units only if they fit under `limit`. */
export interface CounterStore {
  consume(key: string, cost: number, limit: number, windowMs: number): Promise<ConsumeResult>;
}

/** Emitted for every refused request, so metrics can count `ml_rate_limit_rejections_total`. */
export interface RejectionEvent extends Tracker {
  /** Units the refused request would have cost. */
  cost: number;
  limit: number;
  /** Units still free in the window (a batch can be refused while smaller requests would pass). */
  remaining: number;
  retryAfterSeconds: number;
}

export type DegradedListener = (degraded: boolean, cause?: unknown) => void;
export type RejectionListener = (event: RejectionEvent) => void;
export type Unsubscribe = () => void;

/** Monotonic milliseconds; injected so tests can move time. */
export interface Clock {
  now(): number;
}

/**
 * Whole seconds until a window resets, rounded up. A monotonic clock's float arithmetic can leave
 * a fresh 2 s window at 2000.0000000002 ms: a nanosecond's tolerance keeps that at 2.
 */
export function secondsUntilReset(resetMs: number): number {
  return Math.max(0, Math.ceil(resetMs / 1000 - 1e-6));
}
