import { ServiceError } from '@ml/errors';
import type { Tracker } from './rate-limit.types';

/** A client spent its allowance for the current window. Carries when it may try again. */
export class RateLimitedError extends ServiceError {
  constructor(
    readonly tracker: Tracker,
    readonly limit: number,
    readonly windowSeconds: number,
    readonly cost: number,
    retryAfterSeconds: number,
  ) {
    super('RATE_LIMITED', `rate limit exceeded by ${tracker.kind} ${tracker.name} (cost ${cost}, limit ${limit}/${windowSeconds}s)`, {
      retryAfterSeconds,
      // The public text names no key or address: the client knows who it is.
      publicDetail:
        cost > limit
          ? `This request costs ${cost} units but the limit is ${limit} per ${windowSeconds} s; send smaller batches.`
          : `Rate limit of ${limit} requests per ${windowSeconds} s exceeded; retry after ${retryAfterSeconds} s.`,
    });
  }
}

export const isRateLimitedError = (e: unknown): e is RateLimitedError => e instanceof RateLimitedError;

/** Options given to the rate limiter that cannot work (caught at boot, not under load). */
export class RateLimitConfigError extends Error {
  readonly code = 'RATE_LIMIT_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'RateLimitConfigError';
  }
}

export const isRateLimitConfigError = (e: unknown): e is RateLimitConfigError => e instanceof RateLimitConfigError;
