import { loadOrExit } from '@ml/config';
import { createRedisClient, hasRedis } from '@ml/redis';
import { runService } from '@ml/server';
import { loadGatewayConfig } from './gateway.config';
import { GatewayModule } from './gateway.module';
import { setupOpenApi } from '@ml/gateway-api';

const config = loadOrExit(() => loadGatewayConfig());
// One server, a master through Sentinel or a Redis Cluster, as REDIS_* name it; none = in memory.
const redis = hasRedis(config.redis) ? createRedisClient(config.redis, 'gateway') : undefined;
// CACHE_REDIS_URL: the prediction cache in a Redis of its own (evicting), so it never crowds out the counters.
const cacheUrl = config.gateway.cache.redisUrl;
const cacheRedis = cacheUrl
  ? createRedisClient({ url: cacheUrl, commandTimeoutMs: config.redis.commandTimeoutMs, connectTimeoutMs: config.redis.connectTimeoutMs }, 'gateway-cache')
  : redis;
void runService({
  name: 'gateway',
  module: GatewayModule.forRoot(config, redis, cacheRedis),
  config: config.service,
  configure: setupOpenApi,
  // The contract gives /infer routes the batch limit (an infer request may carry a batch), here as at the model apps.
  isBatchRoute: (path) => path.endsWith('/batch') || path.endsWith('/infer'),
});
