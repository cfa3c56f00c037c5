export { loadRedisConfig, redactRedisUrl, type RedisConfig } from './lib/redis.config';
export { createRedisClient, waitUntilReady } from './lib/redis.client';
export { RedisBudget, RedisBudgetExceededError, isRedisBudgetExceededError, redisBudgetOf, type BudgetClock } from './lib/redis.budget';
export type { Redis } from 'ioredis';
