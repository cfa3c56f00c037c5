import type { Deadline } from './deadline';

/** Monotonic milliseconds. Injected so tests can drive time (jest fake timers also fake the default). */
export interface Clock {
  now(): number;
}

/** What every attempt receives, and what callers may pass to `execute`. */
export interface CallContext {
  /**
   * Abort this work when it fires. Under a TimeoutPolicy it fires at min(per-try timeout, deadline)
   * and whenever the caller's own signal fires.
   */
  readonly signal: AbortSignal;
  /** The overall deadline for the logical call, across all retries. */
  readonly deadline?: Deadline;
  /** 1 for the first try, 2 for the first retry, ... (set by RetryPolicy). */
  readonly attempt: number;
}

/** The work a policy guards. */
export type Operation<T> = (ctx: CallContext) => Promise<T>;

/** A resilience policy: runs an operation under some rule. Compose them with `wrap`. */
export interface Policy {
  execute<T>(fn: Operation<T>, ctx?: Partial<CallContext>): Promise<T>;
}

/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;

export type Listener<E> = (event: E) => void;
