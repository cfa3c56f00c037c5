/** Which state a breaker was in when it turned a call away. */
export type RejectingState = 'open' | 'half-open';

/** Thrown without running the call while a circuit breaker is open, or half-open with all probe slots taken. */
export class BrokenCircuitError extends Error {
  readonly code = 'BREAKER_OPEN' as const;
  /** Safe to show to a client; `message` names the upstream and is for logs. */
  readonly publicDetail = 'A dependency is temporarily unavailable. Retry later.';
  /** Whole seconds until the breaker lets a call through again (at least 1). */
  readonly retryAfterSeconds: number;

  constructor(
    /** The breaker's name (the upstream it guards). */
    readonly breakerName: string,
    /** Milliseconds until the breaker will admit a probe; 0 when half-open and only the probe slots are full. */
    readonly retryAfterMs: number,
    readonly state: RejectingState,
  ) {
    super(`Circuit breaker '${breakerName}' is ${state}; call rejected without being attempted.`);
    this.name = 'BrokenCircuitError';
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}

/** `'per-try'`: one attempt ran out of its own time; `'deadline'`: the overall deadline passed. */
export type TimeoutKind = 'per-try' | 'deadline';

/** Thrown when an attempt or the overall deadline runs out; the attempt's AbortSignal has been aborted with it. */
export class TimeoutError extends Error {
  readonly code = 'DEADLINE_EXCEEDED' as const;
  readonly publicDetail = 'The operation did not complete in time.';

  constructor(
    /** The time the attempt was given, in milliseconds (0 when the deadline had already passed). */
    readonly timeoutMs: number,
    readonly kind: TimeoutKind,
  ) {
    super(
      kind === 'deadline'
        ? `Deadline exceeded (attempt was given ${timeoutMs} ms).`
        : `Attempt timed out after ${timeoutMs} ms.`,
    );
    this.name = 'TimeoutError';
  }
}

export const isBrokenCircuitError = (e: unknown): e is BrokenCircuitError => e instanceof BrokenCircuitError;

export const isTimeoutError = (e: unknown): e is TimeoutError => e instanceof TimeoutError;
