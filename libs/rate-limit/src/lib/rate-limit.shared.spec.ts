import type Redis from 'ioredis';
import { connected, deleteKeys, gatewayRedisClient, uniquePrefix } from '../testing/redis-server';
import { call, parseRateLimit, startTestApp, type Reply, type TestApp } from '../testing/test-app';

describe('two gateway replicas sharing the real Redis', () => {
  const L = 20;
  const k = 15;
  const prefix = uniquePrefix('shared');
  let clients: Redis[];
  let apps: TestApp[];

  beforeAll(async () => {
    // Separate clients, as two processes would have.
    clients = await Promise.all([connected(gatewayRedisClient(6379)), connected(gatewayRedisClient(6379))]);
    apps = await Promise.all(clients.map((redis) => startTestApp({ requests: L, windowSeconds: 60, redis, keyPrefix: prefix })));
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await deleteKeys(clients[0], prefix);
    clients.forEach((c) => c.disconnect());
  });

  it(`lets exactly L of L+k concurrent requests for one key through, across both`, async () => {
    const replies: Reply[] = await Promise.all(
      Array.from({ length: L + k }, (_, i) => call(apps[i % 2].url, '/ping', { key: 'tenant-a' })),
    );
    const passed = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 429);
    expect(passed).toHaveLength(L);
    expect(refused).toHaveLength(k);
    for (const r of refused) {
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(parseRateLimit(r.headers['ratelimit'])['r']).toBe(0);
      expect(r.headers['ratelimit-policy']).toBe(`"default";q=${L};w=60`);
    }
    // Every unit remaining value 0..L-1 was handed out exactly once.
    expect(passed.map((r) => parseRateLimit(r.headers['ratelimit'])['r']).sort((a, b) => a - b)).toEqual(
      Array.from({ length: L }, (_, i) => i),
    );
    expect(await clients[0].get(`${prefix}default:key:tenant-a`)).toBe(String(L));
    expect(apps.every((a) => a.limiter.mode === 'redis' && !a.limiter.degraded)).toBe(true);
  });

  it('shares a batch charge made on one replica with the other', async () => {
    const batch = await call(apps[0].url, '/batch', { key: 'tenant-b', body: { queries: new Array(L - 2).fill('q') } });
    expect(batch.status).toBe(201);
    const other = await call(apps[1].url, '/batch', { key: 'tenant-b', body: { queries: ['a', 'b', 'c'] } });
    expect(other.status).toBe(429);
    expect(parseRateLimit(other.headers['ratelimit'])['r']).toBe(2);
    expect((await call(apps[1].url, '/batch', { key: 'tenant-b', body: { queries: ['a', 'b'] } })).status).toBe(201);
  });
});
