import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { isCacheUnavailableError } from './cache.errors';
import type { Guard } from './cache.types';
import { PredictionCache } from './prediction.cache';
import { RedisStore } from './redis.store';

// The shared Redis of the dev machine and CI; only keys under this run's prefix are touched.
const REDIS = { host: '127.0.0.1', port: 6379 };
const PREFIX = `test:cache:${process.pid}:${randomUUID()}:`;
const boundedClient: RedisOptions = {
  ...REDIS,
  enableOfflineQueue: false,
  commandTimeout: 1000,
  maxRetriesPerRequest: 1,
};

const clients: Redis[] = [];
async function connect(options: RedisOptions = boundedClient): Promise<Redis> {
  const client = new Redis({ ...options, lazyConnect: true });
  clients.push(client);
  await client.connect();
  return client;
}

let admin: Redis;

beforeAll(async () => {
  admin = await connect({ ...REDIS });
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(
      cursor,
      'MATCH',
      `${PREFIX}*`,
      'COUNT',
      500,
    );
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  // disconnect() on an ended client arms a 2 s timer in ioredis that would keep Jest waiting.
  for (const client of clients)
    if (client.status !== 'end') client.disconnect();
});

describe('RedisStore (real Redis at 127.0.0.1:6379)', () => {
  it('stores JSON values with SET PX and reads them back', async () => {
    const store = new RedisStore({
      client: await connect(),
      keyPrefix: PREFIX,
    });
    const value = { label: 'refund', scores: [0.1, 0.9], meta: { v: '3' } };
    await store.set('obj', value, 60_000);
    await store.set('str', 'plain text', 60_000);

    expect(await store.get('obj')).toEqual(value);
    expect(await store.get('str')).toBe('plain text');
    expect(await store.get('absent')).toBeUndefined();
    expect(await admin.get(`${PREFIX}obj`)).toBe(JSON.stringify(value));
    const pttl = await admin.pttl(`${PREFIX}obj`);
    expect(pttl).toBeGreaterThan(59_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('deletes and says whether there was an entry', async () => {
    const store = new RedisStore({
      client: await connect(),
      keyPrefix: PREFIX,
    });
    await store.set('del', 1, 60_000);
    expect(await store.delete('del')).toBe(true);
    expect(await store.delete('del')).toBe(false);
    expect(await store.get('del')).toBeUndefined();
  });

  it('is shared: two replicas with their own clients see each other’s entries', async () => {
    const replicaA = new RedisStore({
      client: await connect(),
      keyPrefix: PREFIX,
    });
    const replicaB = new RedisStore({
      client: await connect(),
      keyPrefix: PREFIX,
    });
    await replicaA.set('shared', { from: 'A' }, 60_000);
    expect(await replicaB.get('shared')).toEqual({ from: 'A' });
    await replicaB.set('shared', { from: 'B' }, 60_000);
    expect(await replicaA.get('shared')).toEqual({ from: 'B' });
    await replicaB.delete('shared');
    expect(await replicaA.get('shared')).toBeUndefined();

    // Another prefix is another cache.
    const other = new RedisStore({
      client: await connect(),
      keyPrefix: `${PREFIX}other:`,
    });
    await replicaA.set('k', 1, 60_000);
    expect(await other.get('k')).toBeUndefined();
  });

  it('two replicas’ PredictionCaches share computed predictions', async () => {
    const cacheA = new PredictionCache({
      name: 'predictions',
      store: new RedisStore({ client: await connect(), keyPrefix: PREFIX }),
    });
    const cacheB = new PredictionCache({
      name: 'predictions',
      store: new RedisStore({ client: await connect(), keyPrefix: PREFIX }),
    });
    const key = cacheA.key('intent', '1', { text: 'hello' });
    expect(key).toBe(cacheB.key('intent', '1', { text: 'hello' }));
    let runs = 0;
    const compute = async () => {
      runs += 1;
      return { label: 'greeting' };
    };
    // Concurrent misses in one replica go through the real async store and still compute once.
    const first = await Promise.all(
      Array.from({ length: 5 }, () =>
        cacheA.getOrCompute(key, compute, 60_000),
      ),
    );
    expect(first.every((r) => !r.cached)).toBe(true);
    // The write after a miss is sent, never waited for: let it land before replica B looks.
    const probe = new RedisStore({ client: await connect(), keyPrefix: PREFIX });
    for (let i = 0; i < 100 && (await probe.get(key)) === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await cacheB.getOrCompute(key, compute, 60_000)).toEqual({
      value: { label: 'greeting' },
      cached: true,
    });
    expect(runs).toBe(1);
    expect(cacheB.stats()).toMatchObject({ hits: 1, misses: 0, size: null });
  });

  it('honours the TTL: Redis drops the entry when it expires', async () => {
    const store = new RedisStore({
      client: await connect(),
      keyPrefix: PREFIX,
    });
    await store.set('ttl', 'short-lived', 150);
    const pttl = await admin.pttl(`${PREFIX}ttl`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(150);
    expect(await store.get('ttl')).toBe('short-lived');
    await new Promise((r) => setTimeout(r, 300));
    expect(await store.get('ttl')).toBeUndefined();
    expect(await admin.exists(`${PREFIX}ttl`)).toBe(0);
  });

  it('sends a fractional TTL as whole milliseconds', async () => {
    const store = new RedisStore({
      client: await connect(),
      keyPrefix: PREFIX,
    });
    await store.set('frac', 1, 5000.2);
    const pttl = await admin.pttl(`${PREFIX}frac`);
    expect(pttl).toBeGreaterThan(4900);
    expect(pttl).toBeLessThanOrEqual(5001);
  });

  it('treats text under the prefix that is not JSON as a miss', async () => {
    const store = new RedisStore({
      client: await connect(),
      keyPrefix: PREFIX,
    });
    await admin.set(`${PREFIX}garbage`, '{not json', 'PX', 60_000);
    expect(await store.get('garbage')).toBeUndefined();
  });

  it('answers ping', async () => {
    const store = new RedisStore({
      client: await connect(),
      keyPrefix: PREFIX,
    });
    await expect(store.ping()).resolves.toBeUndefined();
  });

  describe('guard', () => {
    it('runs every Redis call through the guard', async () => {
      const ran: string[] = [];
      let current = '';
      const guard: Guard = async (op) => {
        const result = await op();
        ran.push(current);
        return result;
      };
      const store = new RedisStore({
        client: await connect(),
        keyPrefix: PREFIX,
        guard,
      });
      current = 'set';
      await store.set('g', 'v', 60_000);
      current = 'get';
      expect(await store.get('g')).toBe('v');
      current = 'delete';
      expect(await store.delete('g')).toBe(true);
      current = 'ping';
      await store.ping();
      expect(ran).toEqual(['set', 'get', 'delete', 'ping']);
    });

    it('does not reach Redis when the guard refuses, and says why', async () => {
      class BreakerOpenError extends Error {
        readonly code = 'BREAKER_OPEN';
        readonly retryAfterSeconds = 7;
      }
      const refusal = new BreakerOpenError('breaker open');
      const open: Guard = () => Promise.reject(refusal);
      const store = new RedisStore({
        client: await connect(),
        keyPrefix: PREFIX,
        guard: open,
      });

      const error = await store
        .set('refused', 'v', 60_000)
        .catch((e: unknown) => e);
      expect(isCacheUnavailableError(error)).toBe(true);
      expect(error).toMatchObject({
        code: 'CACHE_UNAVAILABLE',
        retryAfterSeconds: 7,
      });
      expect((error as { cause?: unknown }).cause).toBe(refusal);
      expect((error as Error).message).toBe(
        'cache backend SET failed: breaker open',
      );
      expect(await admin.exists(`${PREFIX}refused`)).toBe(0);
      await expect(store.get('refused')).rejects.toMatchObject({
        code: 'CACHE_UNAVAILABLE',
      });
      await expect(store.delete('refused')).rejects.toMatchObject({
        code: 'CACHE_UNAVAILABLE',
      });
      await expect(store.ping()).rejects.toMatchObject({
        code: 'CACHE_UNAVAILABLE',
      });
    });
  });

  it('fails fast, not hangs, when its client cannot reach Redis', async () => {
    // A port nothing listens on; with the offline queue off the command is refused at once.
    const client = new Redis({
      host: '127.0.0.1',
      port: 1,
      enableOfflineQueue: false,
      commandTimeout: 500,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    clients.push(client);
    const store = new RedisStore({ client, keyPrefix: PREFIX });
    const started = Date.now();
    const error = await store.get('k').catch((e: unknown) => e);
    expect(isCacheUnavailableError(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('refuses a client that could hang: offline queue on or no command timeout', () => {
    const queueing = new Redis({
      ...REDIS,
      lazyConnect: true,
      commandTimeout: 100,
    });
    const untimed = new Redis({
      ...REDIS,
      lazyConnect: true,
      enableOfflineQueue: false,
    });
    clients.push(queueing, untimed);
    expect(
      () => new RedisStore({ client: queueing, keyPrefix: PREFIX }),
    ).toThrow(/enableOfflineQueue: false/);
    expect(
      () => new RedisStore({ client: untimed, keyPrefix: PREFIX }),
    ).toThrow(/commandTimeout/);
  });

  it('refuses an empty key prefix', async () => {
    const client = await connect();
    expect(() => new RedisStore({ client, keyPrefix: '' })).toThrow(
      /keyPrefix/,
    );
  });
});
