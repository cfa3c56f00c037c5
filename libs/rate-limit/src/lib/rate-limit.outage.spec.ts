import type Redis from 'ioredis';
import { CircuitBreaker } from '@ml/resilience';
import { PrivateRedis, connected, gatewayRedisClient, uniquePrefix } from '../testing/redis-server';
import { call, startTestApp, type Reply, type TestApp } from '../testing/test-app';

/**
 * Two replicas on a redis-server of our own, which the test stops (SIGSTOP), kills and restarts.
 * Limits must be shared while it works, per process while it does not, and no request may fail or
 * hang because of it.
 */
describe('Redis outage', () => {
  const L = 5;
  // Generous, so a loaded CI machine (two test runners on two cores) never times out a healthy call.
  const TIMEOUT_MS = 250;
  // Long enough that no request of the frozen phase (about 2 x 3 timeouts plus the fast answers)
  // lands on a half-open probe, which may wait TIMEOUT_MS.
  const OPEN_MS = 5000;
  const prefix = uniquePrefix('outage');
  let server: PrivateRedis;
  let clients: Redis[];
  let apps: TestApp[];
  const flips: boolean[][] = [[], []];

  beforeAll(async () => {
    server = await PrivateRedis.start();
    clients = await Promise.all([connected(gatewayRedisClient(server.port)), connected(gatewayRedisClient(server.port))]);
    apps = await Promise.all(
      clients.map((redis, i) =>
        startTestApp({
          requests: L,
          windowSeconds: 60,
          redis,
          keyPrefix: prefix,
          redisTimeoutMs: TIMEOUT_MS,
          breaker: new CircuitBreaker({ name: `rate-limit-${i}`, failureThreshold: 3, openMs: OPEN_MS }),
          probeIntervalMs: 100,
          onDegradedChange: (degraded) => flips[i].push(degraded),
        }),
      ),
    );
  }, 20_000);

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    clients.forEach((c) => c.disconnect());
    await server.kill();
  });

  /** `n` requests for `key`, alternating replicas unless `only` is given; sequential, as one client sends them. */
  async function send(key: string, n: number, only?: 0 | 1): Promise<Reply[]> {
    const out: Reply[] = [];
    for (let i = 0; i < n; i++) out.push(await call(apps[only ?? i % 2].url, '/ping', { key }));
    return out;
  }
  const passed = (rs: Reply[]) => rs.filter((r) => r.status === 200).length;

  async function until(cond: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('condition not reached in time');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Every answer is a 200 or a 429, well within a second: never a 5xx, never a hang. */
  function expectAnsweredPromptly(replies: Reply[]): void {
    for (const r of replies) {
      expect([200, 429]).toContain(r.status);
      expect(r.ms).toBeLessThan(TIMEOUT_MS + 400);
    }
  }

  it('shares the limit while Redis works', async () => {
    const replies = await send('healthy', 2 * L);
    expect(passed(replies)).toBe(L);
    expect(apps.map((a) => a.limiter.degraded)).toEqual([false, false]);
  });

  it('answers every request while Redis is frozen, degrades once per replica, and limits per process', async () => {
    // Spent on the shared counters first: replica 0 last heard count L, replica 1 count L - 1.
    expect(passed(await send('spent', L))).toBe(L);
    server.pause();
    try {
      const replies = [...(await send('frozen', 2 * L, 0)), ...(await send('frozen', 2 * L, 1))];
      expectAnsweredPromptly(replies);
      // Each replica now counts on its own: L each.
      expect(passed(replies)).toBe(2 * L);
      expect(apps.map((a) => a.limiter.degraded)).toEqual([true, true]);
      expect(apps.map((a) => a.limiter.mode)).toEqual(['memory-fallback', 'memory-fallback']);
      expect(flips).toEqual([[true], [true]]);
      // Once the breaker is open, requests do not even wait for the timeout.
      const fast = await send('frozen-later', 4);
      expect(Math.max(...fast.map((r) => r.ms))).toBeLessThan(TIMEOUT_MS);
      // Each replica carries on from the shared count it last heard, not from 0: the client that
      // had spent its limit gets only what replica 1 still believed was left (one unit).
      const spent = [...(await send('spent', 2 * L, 0)), ...(await send('spent', 2 * L, 1))];
      expectAnsweredPromptly(spent);
      expect(passed(spent)).toBe(1);
      expect(spent.findIndex((r) => r.status === 200)).toBe(2 * L);
    } finally {
      server.resume();
    }
  });

  it('recovers by itself when Redis answers again and shares the limit again', async () => {
    await until(() => apps.every((a) => !a.limiter.degraded), OPEN_MS + 5000);
    expect(flips).toEqual([
      [true, false],
      [true, false],
    ]);
    const replies = await send('thawed', 2 * L);
    expect(passed(replies)).toBe(L);
  }, 20_000);

  it('answers every request while Redis is down, and returns to shared limits after a restart', async () => {
    await server.kill();
    const down = [...(await send('killed', 2 * L, 0)), ...(await send('killed', 2 * L, 1))];
    expectAnsweredPromptly(down);
    expect(passed(down)).toBe(2 * L);
    expect(apps.map((a) => a.limiter.degraded)).toEqual([true, true]);

    // A new server has an empty script cache: the first call after recovery loads the script again.
    await server.restart();
    await until(() => apps.every((a) => !a.limiter.degraded), OPEN_MS + 10_000);
    const replies = await send('restarted', 2 * L);
    expect(passed(replies)).toBe(L);
    expect(flips).toEqual([
      [true, false, true, false],
      [true, false, true, false],
    ]);
  }, 40_000);
});
