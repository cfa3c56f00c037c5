export { loadRedisConfig, redactRedisUrl, type RedisConfig } from './lib/redis.config';
export { createRedisClient, waitUntilReady } from './lib/redis.client';
export type { Redis } from 'ioredis';
