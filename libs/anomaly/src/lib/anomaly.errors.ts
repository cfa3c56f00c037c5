/** The profile store could not be used (Redis down, timed out, breaker open). Requests degrade; they never fail on it. */
export class ProfileStoreUnavailableError extends Error {
  readonly code = 'PROFILE_STORE_UNAVAILABLE';
  readonly retryAfterSeconds?: number;

  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`profile store ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ProfileStoreUnavailableError';
    const retry = (cause as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (typeof retry === 'number') this.retryAfterSeconds = retry;
  }
}
export const isProfileStoreUnavailableError = (e: unknown): e is ProfileStoreUnavailableError => e instanceof ProfileStoreUnavailableError;

/** A profile store was built with options it cannot work with (programming or configuration error). */
export class ProfileStoreArgumentError extends Error {
  readonly code = 'PROFILE_STORE_ARGUMENT';
  constructor(message: string) {
    super(message);
    this.name = 'ProfileStoreArgumentError';
  }
}
export const isProfileStoreArgumentError = (e: unknown): e is ProfileStoreArgumentError => e instanceof ProfileStoreArgumentError;

/** A request waited longer than its deadline for earlier transactions of the same customer (504). */
export class ProfileLockTimeoutError extends Error {
  readonly code = 'DEADLINE_EXCEEDED';
  readonly publicDetail = 'The request deadline passed while earlier transactions of this customer were being scored.';
  constructor(readonly waitedMs: number) {
    super(`waited ${Math.round(waitedMs)} ms for the customer's earlier transactions`);
    this.name = 'ProfileLockTimeoutError';
  }
}
export const isProfileLockTimeoutError = (e: unknown): e is ProfileLockTimeoutError => e instanceof ProfileLockTimeoutError;
