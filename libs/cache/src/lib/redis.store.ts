import { pingRedis, unboundedClientProblem, type RedisClient } from '@ml/redis';
import { CacheArgumentError, CacheUnavailableError } from './cache.errors';
import type { Guard, JsonValue, ProbeableStore, WaitBudget } from './cache.types';
import { deserialise, serialise, toTtlMs } from './cache.values';

export interface RedisStoreOptions {
  /**
   * The ioredis client, owned by the caller (this store never connects or quits it). It must be
   * created with `enableOfflineQueue: false` (commands fail at once while disconnected instead of
   * queueing) and a positive `commandTimeout` (a command on a stalled connection rejects after
   * it): together they are what keeps every call of this store bounded in time. The constructor
   * refuses a client without them.
   */
  client: RedisClient;
  /** Prepended to every key, e.g. `ml:pred:v1:`; keeps this cache apart from other users. */
  keyPrefix: string;
  /** Every Redis call runs through it, e.g. the app's circuit breaker. */
  guard?: Guard;
}

const passThrough: Guard = (op) => op();

/**
 * A shared store in Redis: values as JSON text under `keyPrefix + key`, written with `SET ... PX`
 * so Redis expires them. Every replica built on the same Redis and prefix sees the same entries.
 * Any failure (connection, timeout, guard refusal, a request's budget running out) rejects with
 * a CacheUnavailableError. With a budget, a call waits no longer than the request has left; the
 * command itself still runs to its own `commandTimeout` in the background, so the guard (the
 * breaker) judges Redis by that, not by what one request could afford.
 */
export class RedisStore implements ProbeableStore {
  readonly keyPrefix: string;
  private readonly client: RedisClient;
  private readonly guard: Guard;

  constructor(options: RedisStoreOptions) {
    const { client, keyPrefix, guard = passThrough } = options;
    if (typeof keyPrefix !== 'string' || keyPrefix === '') {
      throw new CacheArgumentError('keyPrefix must be a non-empty string');
    }
    const problem = unboundedClientProblem(client);
    if (problem) throw new CacheArgumentError(`RedisStore needs ${problem}`);
    this.client = client;
    this.keyPrefix = keyPrefix;
    this.guard = guard;
  }

  async get<T extends JsonValue = JsonValue>(
    key: string,
    budget?: WaitBudget,
  ): Promise<T | undefined> {
    const text = await this.run(
      'GET',
      () => this.client.get(this.keyPrefix + key),
      budget,
    );
    // Text that is not JSON was not written by this store: a miss, not an outage.
    return text === null ? undefined : deserialise<T>(text);
  }

  async set(
    key: string,
    value: JsonValue,
    ttlMs: number,
    budget?: WaitBudget,
  ): Promise<void> {
    const ttl = toTtlMs(ttlMs);
    const text = serialise(value);
    await this.run(
      'SET',
      () => this.client.set(this.keyPrefix + key, text, 'PX', ttl),
      budget,
    );
  }

  async delete(key: string): Promise<boolean> {
    const removed = await this.run('DEL', () =>
      this.client.del(this.keyPrefix + key),
    );
    return removed > 0;
  }

  /** Resolves when Redis answers PING (every master, on a cluster; through the guard); used to notice recovery. */
  async ping(): Promise<void> {
    await this.run('PING', () => pingRedis(this.client));
  }

  private async run<T>(
    operation: string,
    op: () => Promise<T>,
    budget?: WaitBudget,
  ): Promise<T> {
    try {
      return await (budget
        ? budget.run(() => this.guard(op))
        : this.guard(op));
    } catch (error) {
      throw new CacheUnavailableError(operation, error);
    }
  }
}
