import type { Redis } from 'ioredis';
import { RedisBudget } from '@ml/redis';
import { CircuitBreaker } from '@ml/resilience';
import { RateLimitConfigError, RateLimitedError, isRateLimitConfigError, isRateLimitedError } from './rate-limit.errors';
import { RateLimitService } from './rate-limit.service';

/**
 * A Redis client whose every answer the test decides, for the orderings an outage of the real
 * server cannot produce on demand (a slow success landing after a failure). The real-server
 * behaviour is covered in rate-limit.outage.spec.ts.
 */
class ScriptedRedis {
  readonly options = { enableOfflineQueue: false, commandTimeout: 1000 };
  readonly pending: { resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  pingOk = false;
  pings = 0;
  evalsha(): Promise<unknown> {
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  async ping(): Promise<string> {
    this.pings++;
    if (!this.pingOk) throw new Error('ECONNREFUSED');
    return 'PONG';
  }
  asClient(): Redis {
    return this as unknown as Redis;
  }
}

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls `ok` every few ms for up to `ms` (timers run late on a loaded 2-core CI machine). */
async function until(ok: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await sleep(5);
}

describe('RateLimitService', () => {
  it('counts in memory when no Redis is given', async () => {
    const s = new RateLimitService({ requests: 2, windowSeconds: 10 });
    try {
      expect(s.mode).toBe('memory');
      expect(await s.consume('k', 1)).toMatchObject({ allowed: true, count: 1, shared: false });
      expect(await s.consume('k', 1)).toMatchObject({ allowed: true, count: 2 });
      expect(await s.consume('k', 1)).toMatchObject({ allowed: false, count: 2 });
      expect(s.degraded).toBe(false);
    } finally {
      s.close();
    }
  });

  it('works as the ThrottlerStorage of the stock guard: one hit per call, blocked until the window ends', async () => {
    const s = new RateLimitService({ requests: 1, windowSeconds: 10 });
    try {
      expect(await s.increment('k', 2000, 1, 0, 'default')).toEqual({ totalHits: 1, timeToExpire: 2, isBlocked: false, timeToBlockExpire: 0 });
      expect(await s.increment('k', 2000, 1, 0, 'default')).toEqual({ totalHits: 2, timeToExpire: 2, isBlocked: true, timeToBlockExpire: 2 });
    } finally {
      s.close();
    }
  });

  it('keeps answering and notifying when a listener throws, and stops calling an unsubscribed one', () => {
    const s = new RateLimitService({ requests: 1, windowSeconds: 10, onRejected: () => { throw new Error('metrics broke'); } });
    try {
      const seen: string[] = [];
      const off = s.onRejected((e) => seen.push(e.name));
      const event = { kind: 'ip' as const, name: '10.0.0.1', cost: 1, limit: 1, remaining: 0, retryAfterSeconds: 3 };
      s.notifyRejected(event);
      off();
      s.notifyRejected(event);
      expect(seen).toEqual(['10.0.0.1']);
    } finally {
      s.close();
    }
  });

  it('ignores the late success of a call that started before it degraded', async () => {
    const redis = new ScriptedRedis();
    const flips: boolean[] = [];
    const s = new RateLimitService({
      requests: 5,
      windowSeconds: 10,
      redis: redis.asClient(),
      redisTimeoutMs: 5000,
      probeIntervalMs: 10_000,
      onDegradedChange: (d) => flips.push(d),
    });
    try {
      const slow = s.consume('k', 1);
      const failing = s.consume('k', 1);
      await tick();
      redis.pending[1].reject(new Error('connection reset'));
      expect(await failing).toMatchObject({ allowed: true, shared: false });
      expect(s.degraded).toBe(true);
      redis.pending[0].resolve([1, 1, 9000]);
      expect(await slow).toMatchObject({ allowed: true, count: 1, shared: true });
      // Stale: it started before the flip, so it says nothing about Redis now.
      expect(s.degraded).toBe(true);
      // While degraded, requests do not wait on Redis at all: memory answers, Redis is not asked.
      expect(await s.consume('k', 1)).toMatchObject({ shared: false });
      expect(redis.pending).toHaveLength(2);
      expect(flips).toEqual([true]);
    } finally {
      s.close();
    }
  });

  it("waits on Redis no longer than the request's budget has left, and not at all once it is spent", async () => {
    const redis = new ScriptedRedis();
    const s = new RateLimitService({ requests: 5, windowSeconds: 10, redis: redis.asClient(), redisTimeoutMs: 1000, probeIntervalMs: 10_000 });
    try {
      expect(s.redisBudgetMs).toBe(1000);
      // A spent budget: memory answers, Redis is not asked and the limiter is not degraded.
      const spent = new RedisBudget(30);
      await spent.run(() => sleep(40)).catch(() => undefined);
      expect(spent.exhausted).toBe(true);
      expect(await s.consume('k', 1, 5, 10_000, spent)).toMatchObject({ allowed: true, shared: false });
      expect(redis.pending).toHaveLength(0);
      expect(s.degraded).toBe(false);
      // A hung call is cut when the request's budget runs out (50 ms), well before its own 1000 ms.
      const budget = new RedisBudget(50);
      const started = performance.now();
      expect(await s.consume('k', 1, 5, 10_000, budget)).toMatchObject({ shared: false });
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(45);
      expect(waited).toBeLessThan(500);
      expect(redis.pending).toHaveLength(1);
      expect(s.degraded).toBe(true);
    } finally {
      s.close();
    }
  });

  it('treats a malformed script reply as a Redis failure', async () => {
    const redis = new ScriptedRedis();
    const s = new RateLimitService({ requests: 5, windowSeconds: 10, redis: redis.asClient(), probeIntervalMs: 10_000 });
    try {
      const r = s.consume('k', 1);
      await tick();
      redis.pending[0].resolve('OK');
      expect(await r).toMatchObject({ allowed: true, shared: false });
      expect(s.degraded).toBe(true);
    } finally {
      s.close();
    }
  });

  it('pings Redis while degraded, even with no traffic, and stops once closed', async () => {
    const redis = new ScriptedRedis();
    const flips: boolean[] = [];
    const s = new RateLimitService({
      requests: 5,
      windowSeconds: 10,
      redis: redis.asClient(),
      breaker: new CircuitBreaker({ failureThreshold: 100 }),
      probeIntervalMs: 20,
      onDegradedChange: (d) => flips.push(d),
    });
    const r = s.consume('k', 1);
    await tick();
    redis.pending[0].reject(new Error('down'));
    await r;
    // Probes every 20 ms with no traffic at all.
    await until(() => redis.pings >= 2);
    expect(redis.pings).toBeGreaterThanOrEqual(2);
    expect(s.degraded).toBe(true);
    redis.pingOk = true;
    await until(() => !s.degraded);
    expect(s.degraded).toBe(false);
    expect(flips).toEqual([true, false]);

    // Degrade again, then close: no probe runs after close and the state stays put.
    const again = s.consume('k', 1);
    await tick();
    redis.pending[1].reject(new Error('down'));
    await again;
    s.close();
    const pingsAtClose = redis.pings;
    await sleep(60);
    expect(redis.pings).toBe(pingsAtClose);
    expect(flips).toEqual([true, false, true]);
  });

  it('refuses options that cannot work', () => {
    expect(() => new RateLimitService({ requests: 0, windowSeconds: 10 })).toThrow(RateLimitConfigError);
    expect(() => new RateLimitService({ requests: 2.5, windowSeconds: 10 })).toThrow(/requests/);
    expect(() => new RateLimitService({ requests: 1, windowSeconds: 0.5 })).toThrow(/windowSeconds/);
    expect(() => new RateLimitService({ requests: 1, windowSeconds: 1, probeIntervalMs: 0 })).toThrow(/probeIntervalMs/);
  });
});

describe('rate-limit errors', () => {
  it('carry a stable code, the retry delay and a public detail that names nobody', () => {
    const e = new RateLimitedError({ kind: 'key', name: 'acme' }, 100, 60, 1, 12);
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.retryAfterSeconds).toBe(12);
    expect(e.message).toContain('acme');
    expect(e.publicDetail).not.toContain('acme');
    expect(isRateLimitedError(e)).toBe(true);
    expect(isRateLimitedError(new Error('x'))).toBe(false);
    expect(isRateLimitConfigError(new RateLimitConfigError('bad'))).toBe(true);
    expect(new RateLimitConfigError('bad').code).toBe('RATE_LIMIT_CONFIG_INVALID');
  });
});
