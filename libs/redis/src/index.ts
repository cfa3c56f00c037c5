export {
  loadRedisConfig,
  redactRedisUrl,
  describeRedis,
  hasRedis,
  REDIS_ENV_VARS,
  type RedisConfig,
  type RedisNode,
  type RedisTopology,
  type RedisTls,
} from './lib/redis.config';
export {
  createRedisClient,
  waitUntilReady,
  pingRedis,
  commandTimeoutOf,
  unboundedClientProblem,
  type RedisClient,
  type RedisClientConfig,
} from './lib/redis.client';
export { RedisBudget, RedisBudgetExceededError, isRedisBudgetExceededError, redisBudgetOf, type BudgetClock } from './lib/redis.budget';
export type { Redis, Cluster } from 'ioredis';
