import Redis from 'ioredis';
import { RateLimitConfigError } from './rate-limit.errors';
import { RedisCounterStore } from './redis.counter-store';
import { connected, deleteKeys, gatewayRedisClient, uniquePrefix } from '../testing/redis-server';

describe('RedisCounterStore on the shared Redis', () => {
  const prefix = uniquePrefix('store');
  let client: Redis;
  let store: RedisCounterStore;

  beforeAll(async () => {
    client = await connected(gatewayRedisClient(6379));
    store = new RedisCounterStore({ client, keyPrefix: prefix });
  });
  afterAll(async () => {
    await deleteKeys(client, prefix);
    client.disconnect();
  });

  it('counts in one key under the prefix that Redis expires at the end of the window', async () => {
    const first = await store.consume('k1', 2, 10, 5000);
    expect(first).toEqual({ allowed: true, count: 2, resetMs: 5000 });
    expect(await client.get(`${prefix}k1`)).toBe('2');
    const ttl = await client.pttl(`${prefix}k1`);
    expect(ttl).toBeGreaterThan(4000);
    expect(ttl).toBeLessThanOrEqual(5000);
    // Later hits keep the window's end; they do not push it back.
    await new Promise((r) => setTimeout(r, 50));
    const second = await store.consume('k1', 1, 10, 5000);
    expect(second.count).toBe(3);
    expect(second.resetMs).toBeLessThan(first.resetMs);
  });

  it('refuses what does not fit without charging it, and starts over after the window', async () => {
    // A window long enough that the four calls land inside it even on a loaded machine.
    const W = 1000;
    expect(await store.consume('k2', 3, 4, W)).toMatchObject({ allowed: true, count: 3 });
    expect(await store.consume('k2', 2, 4, W)).toMatchObject({ allowed: false, count: 3 });
    expect(await store.consume('k2', 1, 4, W)).toMatchObject({ allowed: true, count: 4 });
    expect(await store.consume('k2', 1, 4, W)).toMatchObject({ allowed: false, count: 4 });
    await new Promise((r) => setTimeout(r, W + 50));
    expect(await store.consume('k2', 1, 4, W)).toMatchObject({ allowed: true, count: 1 });
  });

  it('refuses a cost above the limit without creating the key', async () => {
    expect(await store.consume('k3', 5, 4, 1000)).toEqual({ allowed: false, count: 0, resetMs: 1000 });
    expect(await client.exists(`${prefix}k3`)).toBe(0);
  });

  it('gives a key that lost its expiry a new one instead of blocking forever', async () => {
    await client.set(`${prefix}k4`, '10');
    expect(await store.consume('k4', 1, 10, 2000)).toMatchObject({ allowed: false, count: 10, resetMs: 2000 });
    expect(await client.pttl(`${prefix}k4`)).toBeGreaterThan(0);
  });

  it('is exact under concurrency: 300 racing requests against a limit of 100 let exactly 100 through', async () => {
    const results = await Promise.all(Array.from({ length: 300 }, () => store.consume('race', 1, 100, 10_000)));
    expect(results.filter((r) => r.allowed)).toHaveLength(100);
    expect(await client.get(`${prefix}race`)).toBe('100');
  });

  it('refuses a client that could make requests wait', () => {
    const queued = new Redis({ lazyConnect: true, commandTimeout: 100 });
    const untimed = new Redis({ lazyConnect: true, enableOfflineQueue: false });
    try {
      expect(() => new RedisCounterStore({ client: queued, keyPrefix: 'x:' })).toThrow(RateLimitConfigError);
      expect(() => new RedisCounterStore({ client: untimed, keyPrefix: 'x:' })).toThrow(/commandTimeout/);
    } finally {
      queued.disconnect();
      untimed.disconnect();
    }
  });
});
