import { loadAnomalyConfig } from './anomaly.config';

describe('loadAnomalyConfig', () => {
  it('has documented defaults', () => {
    expect(loadAnomalyConfig({})).toEqual({
      profileMax: 50_000,
      profileTtlMs: 90 * 86_400_000,
      keyPrefix: 'ml:profile:',
      casRetries: 8,
      profileEncoding: 'binary',
      breaker: { failureThreshold: 3, recoveryMs: 2000 },
      transactionRules: { maxAmount: 1_000_000, maxFutureMs: 24 * 3_600_000 },
    });
  });

  it('reads every variable', () => {
    const c = loadAnomalyConfig({
      ANOMALY_PROFILE_MAX: '500',
      ANOMALY_PROFILE_TTL_DAYS: '0.5',
      ANOMALY_PROFILE_KEY_PREFIX: 'p:',
      ANOMALY_PROFILE_CAS_RETRIES: '0',
      ANOMALY_PROFILE_ENCODING: 'json',
      ANOMALY_REDIS_BREAKER_THRESHOLD: '10',
      ANOMALY_REDIS_BREAKER_RECOVERY_MS: '250',
      MAX_TRANSACTION_AMOUNT: '5000',
      MAX_FUTURE_SKEW_HOURS: '1.5',
    });
    expect(c).toEqual({
      profileMax: 500,
      profileTtlMs: 43_200_000,
      keyPrefix: 'p:',
      casRetries: 0,
      profileEncoding: 'json',
      breaker: { failureThreshold: 10, recoveryMs: 250 },
      transactionRules: { maxAmount: 5000, maxFutureMs: 5_400_000 },
    });
  });

  it.each([
    ['ANOMALY_PROFILE_MAX', '0'],
    ['ANOMALY_PROFILE_MAX', 'lots'],
    ['ANOMALY_PROFILE_TTL_DAYS', '0'],
    ['ANOMALY_PROFILE_TTL_DAYS', '-1'],
    ['ANOMALY_PROFILE_KEY_PREFIX', 'has space'],
    ['ANOMALY_PROFILE_CAS_RETRIES', '1.5'],
    ['ANOMALY_PROFILE_ENCODING', 'msgpack'],
    ['ANOMALY_REDIS_BREAKER_THRESHOLD', '0'],
    ['ANOMALY_REDIS_BREAKER_RECOVERY_MS', '1'],
    ['MAX_TRANSACTION_AMOUNT', '0'],
    ['MAX_FUTURE_SKEW_HOURS', '-2'],
  ])('names %s when it is %p', (variable, value) => {
    expect(() => loadAnomalyConfig({ [variable]: value })).toThrow(`Invalid configuration: ${variable}`);
  });
});
