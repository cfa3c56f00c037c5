import { env, loadEnv, type Env } from '@ml/config';

/** How many request units each client may spend per fixed window. */
export interface RateLimitConfig {
  /** RATE_LIMIT_REQUESTS: units per window and client (a batch of k items costs k). Default 100. */
  requests: number;
  /** RATE_LIMIT_WINDOW: window length in whole seconds. Default 60. */
  windowSeconds: number;
}

/** Reads the rate-limit slice of the environment; an invalid value throws a ConfigError naming it. */
export function loadRateLimitConfig(source: Env = process.env): RateLimitConfig {
  const e = loadEnv(
    {
      RATE_LIMIT_REQUESTS: env.int(100, { min: 1, max: 1_000_000_000 }),
      RATE_LIMIT_WINDOW: env.int(60, { min: 1, max: 86_400 }),
    },
    source,
  );
  return { requests: e.RATE_LIMIT_REQUESTS, windowSeconds: e.RATE_LIMIT_WINDOW };
}
