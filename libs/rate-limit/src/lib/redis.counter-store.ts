import { createHash } from 'node:crypto';
import { pingRedis, unboundedClientProblem, type RedisClient } from '@ml/redis';
import { RateLimitConfigError } from './rate-limit.errors';
import type { ConsumeResult, CounterStore } from './rate-limit.types';

/**
 * One atomic step per request: charge ARGV[1] units if they fit under ARGV[2], starting a window of
 * ARGV[3] ms on the first charge. Returns {allowed 0|1, count, pttl}. A refused request is not
 * charged, so an oversized batch does not burn what smaller requests could still use. A key that
 * somehow lost its expiry gets one again rather than blocking its owner forever.
 */
export const CONSUME_SCRIPT = `
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then
  redis.call('PEXPIRE', KEYS[1], window)
  ttl = window
end
if count + cost > limit then
  if ttl < 0 then ttl = window end
  return {0, count, ttl}
end
count = redis.call('INCRBY', KEYS[1], cost)
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], window)
  ttl = window
end
return {1, count, ttl}
`;

const SCRIPT_SHA = createHash('sha1').update(CONSUME_SCRIPT).digest('hex');

export interface RedisCounterStoreOptions {
  /**
   * Owned by the caller (never connected or quit here). It must have `enableOfflineQueue: false`
   * (commands fail at once while disconnected) and a positive `commandTimeout` (a command on a
   * stalled connection fails after it); the constructor refuses a client without them.
   */
  client: RedisClient;
  /** Prepended to every key, keeping these counters apart from other users of the same Redis. */
  keyPrefix: string;
}

/**
 * Counters shared by every replica that uses the same Redis and prefix, so N gateways enforce one
 * limit. Windows are timed by Redis (PEXPIRE), so replica clocks do not matter.
 */
export class RedisCounterStore implements CounterStore {
  private readonly client: RedisClient;
  readonly keyPrefix: string;

  constructor(options: RedisCounterStoreOptions) {
    const { client, keyPrefix } = options;
    const problem = unboundedClientProblem(client);
    if (problem) throw new RateLimitConfigError(`the rate limiter needs ${problem}`);
    this.client = client;
    this.keyPrefix = keyPrefix;
  }

  async consume(key: string, cost: number, limit: number, windowMs: number): Promise<ConsumeResult> {
    const args = [this.keyPrefix + key, cost, limit, Math.ceil(windowMs)] as const;
    let reply: unknown;
    try {
      reply = await this.client.evalsha(SCRIPT_SHA, 1, ...args);
    } catch (error) {
      // First use on this server (or after a restart/SCRIPT FLUSH): EVAL loads it into the cache.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      reply = await this.client.eval(CONSUME_SCRIPT, 1, ...args);
    }
    if (!Array.isArray(reply) || reply.length !== 3) throw new Error(`unexpected reply from the rate-limit script: ${String(reply)}`);
    const [allowed, count, ttl] = reply.map(Number);
    return { allowed: allowed === 1, count, resetMs: Math.max(0, ttl) };
  }

  /** Resolves when Redis answers PING (every master, on a cluster); used to notice that it is back. */
  async ping(): Promise<void> {
    await pingRedis(this.client);
  }
}
