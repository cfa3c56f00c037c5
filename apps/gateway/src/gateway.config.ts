import { loadAuthConfig, type AuthConfig } from '@ml/auth';
import { env, loadEnv, loadServiceConfig, type Env, type ServiceConfig } from '@ml/config';
import { DEFAULT_MAX_AMOUNT, type TransactionRules } from '@ml/contracts';
import { loadGatewaySettings, type GatewaySettings } from '@ml/gateway-api';
import { loadRateLimitConfig, type RateLimitConfig } from '@ml/rate-limit';
import { loadRedisConfig, type RedisConfig } from '@ml/redis';

export interface GatewayConfig {
  service: ServiceConfig;
  auth: AuthConfig;
  gateway: GatewaySettings;
  redis: RedisConfig;
  rateLimit: RateLimitConfig;
  transactionRules: TransactionRules;
}

/** Every slice the gateway needs, each validated by the lib that owns it. */
export function loadGatewayConfig(source: Env = process.env): GatewayConfig {
  const rules = loadEnv(
    {
      MAX_TRANSACTION_AMOUNT: env.number(DEFAULT_MAX_AMOUNT, { min: 0.01, max: 1e12 }),
      MAX_FUTURE_SKEW_HOURS: env.number(24, { min: 0, max: 24 * 365 }),
    },
    source,
  );
  return {
    service: loadServiceConfig(3000, source),
    auth: loadAuthConfig(source),
    gateway: loadGatewaySettings(source),
    redis: loadRedisConfig(source),
    rateLimit: loadRateLimitConfig(source),
    transactionRules: { maxAmount: rules.MAX_TRANSACTION_AMOUNT as number, maxFutureMs: (rules.MAX_FUTURE_SKEW_HOURS as number) * 3600 * 1000 },
  };
}
