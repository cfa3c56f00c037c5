/** A caller passed something the cache cannot use (bad TTL, non-JSON value, bad options). */
export class CacheArgumentError extends Error {
  readonly code = 'CACHE_INVALID_ARGUMENT';

  constructor(message: string) {
    super(message);
    this.name = 'CacheArgumentError';
  }
}

export const isCacheArgumentError = (e: unknown): e is CacheArgumentError =>
  e instanceof CacheArgumentError;

/**
 * A cache backend call failed: the backend was unreachable, timed out, or the guard refused the
 * call. `cause` holds the original error (e.g. the breaker's, with its own `retryAfterSeconds`).
 */
export class CacheUnavailableError extends Error {
  readonly code = 'CACHE_UNAVAILABLE';
  readonly retryAfterSeconds?: number;

  constructor(operation: string, cause: unknown) {
    super(`cache backend ${operation} failed: ${describe(cause)}`);
    this.name = 'CacheUnavailableError';
    // Set by hand: the libs we compile against predate ErrorOptions, Node reads it all the same.
    Object.defineProperty(this, 'cause', { value: cause, configurable: true });
    const retry = (cause as { retryAfterSeconds?: unknown } | null)
      ?.retryAfterSeconds;
    if (typeof retry === 'number') this.retryAfterSeconds = retry;
  }
}

export const isCacheUnavailableError = (
  e: unknown,
): e is CacheUnavailableError => e instanceof CacheUnavailableError;

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
