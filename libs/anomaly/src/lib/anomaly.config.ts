import { ConfigError, env, loadEnv, type Env } from '@ml/config';
import { DEFAULT_MAX_AMOUNT, type TransactionRules } from '@ml/contracts';

const DAY_MS = 86_400_000;

export const PROFILE_ENCODINGS = ['binary', 'json'] as const;
export type ProfileEncoding = (typeof PROFILE_ENCODINGS)[number];

export interface AnomalyConfig {
  /** Most customer profiles the in-memory store holds (least recently used go first). */
  profileMax: number;
  /** A profile not updated for this long is forgotten (memory and Redis). */
  profileTtlMs: number;
  /** Prefix of the Redis keys holding profiles; the profile version follows it (`v2:`). */
  keyPrefix: string;
  /** Compare-and-set attempts after the first, per customer, before a fold is given up. */
  casRetries: number;
  /**
   * How profiles are written to Redis: `binary` (profile.codec.ts) or `json`, the form builds
   * before 2026-12-05 wrote and read. Both are always read; `json` is for a rolling upgrade while
   * such builds still share the Redis (or may be rolled back to).
   */
  profileEncoding: ProfileEncoding;
  /** Circuit breaker in front of Redis. */
  breaker: { failureThreshold: number; recoveryMs: number };
  transactionRules: TransactionRules;
  /**
   * ANOMALY_ALERT_RATE: serve the model's operating point for this share of transactions flagged
   * instead of its default threshold (it must be one the manifest lists).
   */
  alertRate?: number;
}

/** The detector's own settings (Redis itself comes from `loadRedisConfig`). */
export function loadAnomalyConfig(source: Env = process.env): AnomalyConfig {
  const e = loadEnv(
    {
      ANOMALY_PROFILE_MAX: env.int(50_000, { min: 1, max: 100_000_000 }),
      ANOMALY_PROFILE_TTL_DAYS: env.number(90, { min: 0.001, max: 3650 }),
      ANOMALY_PROFILE_KEY_PREFIX: env.string('ml:profile:'),
      ANOMALY_PROFILE_CAS_RETRIES: env.int(8, { min: 0, max: 100 }),
      ANOMALY_PROFILE_ENCODING: env.oneOf(PROFILE_ENCODINGS, 'binary'),
      ANOMALY_REDIS_BREAKER_THRESHOLD: env.int(3, { min: 1, max: 1000 }),
      ANOMALY_REDIS_BREAKER_RECOVERY_MS: env.int(2000, { min: 10, max: 600_000 }),
      MAX_TRANSACTION_AMOUNT: env.number(DEFAULT_MAX_AMOUNT, { min: 0.01, max: 1e12 }),
      MAX_FUTURE_SKEW_HOURS: env.number(24, { min: 0, max: 24 * 365 }),
      ANOMALY_ALERT_RATE: env.optionalString(),
    },
    source,
  );
  const prefix = e.ANOMALY_PROFILE_KEY_PREFIX as string;
  if (/\s/.test(prefix)) throw new ConfigError('ANOMALY_PROFILE_KEY_PREFIX', `must not contain whitespace (got ${JSON.stringify(prefix)})`);
  const rawRate = e.ANOMALY_ALERT_RATE as string | undefined;
  let alertRate: number | undefined;
  if (rawRate !== undefined) {
    alertRate = Number(rawRate.trim());
    if (!(alertRate > 0 && alertRate < 1)) {
      throw new ConfigError('ANOMALY_ALERT_RATE', `must be a share of transactions between 0 and 1, e.g. 0.005 (got ${JSON.stringify(rawRate)})`);
    }
  }
  return {
    ...(alertRate === undefined ? {} : { alertRate }),
    profileMax: e.ANOMALY_PROFILE_MAX as number,
    profileTtlMs: Math.round((e.ANOMALY_PROFILE_TTL_DAYS as number) * DAY_MS),
    keyPrefix: prefix,
    casRetries: e.ANOMALY_PROFILE_CAS_RETRIES as number,
    profileEncoding: e.ANOMALY_PROFILE_ENCODING as ProfileEncoding,
    breaker: {
      failureThreshold: e.ANOMALY_REDIS_BREAKER_THRESHOLD as number,
      recoveryMs: e.ANOMALY_REDIS_BREAKER_RECOVERY_MS as number,
    },
    transactionRules: {
      maxAmount: e.MAX_TRANSACTION_AMOUNT as number,
      maxFutureMs: (e.MAX_FUTURE_SKEW_HOURS as number) * 3_600_000,
    },
  };
}
