import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { redactRedisUrl, type RedisConfig } from './redis.config';

/**
 * A client that never makes a request wait on Redis: no offline queue (commands fail at once while
 * disconnected), a per-command timeout, and reconnection in the background with capped backoff.
 */
export function createRedisClient(config: RedisConfig & { url: string }, name = 'redis'): Redis {
  const logger = new Logger(`Redis:${name}`);
  const client = new Redis(config.url, {
    enableOfflineQueue: false,
    // Commands issued in the same tick (a batch's reads, its write-backs, concurrent requests'
    // counters) leave in one write: one round trip instead of one per command.
    enableAutoPipelining: true,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: config.connectTimeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    reconnectOnError: () => false,
    lazyConnect: false,
  });
  let lastError = '';
  client.on('error', (err: Error) => {
    // ioredis emits the same error on every reconnect attempt: log it once per distinct message.
    if (err.message !== lastError) {
      lastError = err.message;
      logger.warn({ msg: `redis error: ${err.message}`, url: redactRedisUrl(config.url) });
    }
  });
  client.on('ready', () => {
    if (lastError) logger.log({ msg: 'redis connection restored', url: redactRedisUrl(config.url) });
    lastError = '';
  });
  return client;
}

/** Waits until the client is ready or `timeoutMs` passes; never throws (boot goes on degraded). */
export function waitUntilReady(client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}
