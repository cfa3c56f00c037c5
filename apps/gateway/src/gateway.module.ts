import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from '@ml/auth';
import { GatewayApiModule } from '@ml/gateway-api';
import { RateLimitModule } from '@ml/rate-limit';
import type { RedisClient } from '@ml/redis';
import { CoreModule } from '@ml/server';
import type { GatewayConfig } from './gateway.config';

/** Composition root of the gateway: the one front door clients talk to. */
@Module({})
export class GatewayModule {
  /** `redis` holds rate-limit counters; `cacheRedis` the prediction cache (the same client unless CACHE_REDIS_URL). */
  static forRoot(config: GatewayConfig, redis?: RedisClient, cacheRedis: RedisClient | undefined = redis): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        CoreModule.forRoot({ service: 'gateway', config: config.service }),
        AuthModule.forRoot(config.auth),
        // Guards the prediction, protocol and monitoring controllers (after auth), never probes.
        // A limiter call waits on Redis no longer than any other Redis command (REDIS_COMMAND_TIMEOUT_MS).
        RateLimitModule.forRoot({ ...config.rateLimit, redis, redisTimeoutMs: config.redis.commandTimeoutMs, globalGuard: false }),
        GatewayApiModule.forRoot({
          settings: config.gateway,
          options: { requestTimeoutMs: config.service.requestTimeoutMs, transactionRules: config.transactionRules },
          redis: cacheRedis,
        }),
      ],
    };
  }
}
