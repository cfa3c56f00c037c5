import { Agent } from 'undici';
import { RateLimitGuard } from './rate-limit.guard';
import type { RejectionEvent } from './rate-limit.types';
import { call, parseRateLimit, startTestApp, type TestApp } from '../testing/test-app';

describe('RateLimitGuard on a real app (in-memory counters)', () => {
  const L = 5;
  let t: TestApp;
  const rejections: RejectionEvent[] = [];

  beforeAll(async () => {
    t = await startTestApp({ requests: L, windowSeconds: 60, onRejected: (e) => rejections.push(e) });
  });
  afterAll(() => t.close());

  it('sends the policy and the remaining budget on every limited response', async () => {
    const res = await call(t.url, '/ping', { key: 'headers' });
    expect(res.status).toBe(200);
    expect(res.headers['ratelimit-policy']).toBe(`"default";q=${L};w=60`);
    expect(res.headers['ratelimit']).toMatch(/^"default";r=\d+;t=\d+$/);
    const state = parseRateLimit(res.headers['ratelimit']);
    expect(state['r']).toBe(L - 1);
    expect(state['t']).toBeGreaterThanOrEqual(59);
    expect(state['t']).toBeLessThanOrEqual(60);
    // No leftovers from throttler's own header scheme.
    expect(Object.keys(res.headers).filter((h) => h.startsWith('x-ratelimit'))).toEqual([]);
  });

  it('lets L requests through, then answers 429 problem+json with Retry-After and the RateLimit headers', async () => {
    const ok = [];
    for (let i = 0; i < L; i++) ok.push(await call(t.url, '/ping', { key: 'burst' }));
    expect(ok.map((r) => r.status)).toEqual(new Array(L).fill(200));
    expect(ok.map((r) => parseRateLimit(r.headers['ratelimit'])['r'])).toEqual([4, 3, 2, 1, 0]);

    const refused = await call(t.url, '/ping', { key: 'burst' });
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(refused.body).toMatchObject({ status: 429, title: 'Too Many Requests', instance: '/ping' });
    expect(String(refused.body['type'])).toMatch(/rate-limited$/);
    expect(String(refused.body['detail'])).not.toContain('burst');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(refused.headers['ratelimit-policy']).toBe(`"default";q=${L};w=60`);
    const state = parseRateLimit(refused.headers['ratelimit']);
    expect(state['r']).toBe(0);
    expect(state['t']).toBe(retryAfter);
    expect(rejections).toContainEqual({ kind: 'key', name: 'burst', cost: 1, limit: L, remaining: 0, retryAfterSeconds: retryAfter });
  });

  it('charges a batch as many units as it holds items', async () => {
    const three = await call(t.url, '/batch', { key: 'batcher', body: { queries: ['a', 'b', 'c'] } });
    expect(three.status).toBe(201);
    expect(parseRateLimit(three.headers['ratelimit'])['r']).toBe(L - 3);
    // Three more do not fit in the two left: refused, and not charged.
    const tooMany = await call(t.url, '/batch', { key: 'batcher', body: { transactions: [{}, {}, {}] } });
    expect(tooMany.status).toBe(429);
    expect(parseRateLimit(tooMany.headers['ratelimit'])['r']).toBe(2);
    const two = await call(t.url, '/batch', { key: 'batcher', body: { transactions: [{}, {}] } });
    expect(two.status).toBe(201);
    expect(parseRateLimit(two.headers['ratelimit'])['r']).toBe(0);
  });

  it('refuses a batch larger than the whole quota with a detail that says so', async () => {
    const res = await call(t.url, '/batch', { key: 'huge', body: { queries: new Array(L + 1).fill('q') } });
    expect(res.status).toBe(429);
    expect(String(res.body['detail'])).toMatch(/smaller batches/);
    // Nothing was charged: a normal request still has the full budget.
    const next = await call(t.url, '/ping', { key: 'huge' });
    expect(parseRateLimit(next.headers['ratelimit'])['r']).toBe(L - 1);
  });

  it('takes a fixed cost from route metadata and charges 1 when a cost function throws', async () => {
    const heavy = await call(t.url, '/heavy', { key: 'heavy' });
    expect(parseRateLimit(heavy.headers['ratelimit'])['r']).toBe(0);
    const picky = await call(t.url, '/picky', { key: 'picky', body: { x: 1 } });
    expect(picky.status).toBe(201);
    expect(parseRateLimit(picky.headers['ratelimit'])['r']).toBe(L - 1);
  });

  it('gives every key its own bucket', async () => {
    for (let i = 0; i < L; i++) expect((await call(t.url, '/ping', { key: 'alice' })).status).toBe(200);
    expect((await call(t.url, '/ping', { key: 'alice' })).status).toBe(429);
    const bob = await call(t.url, '/ping', { key: 'bob' });
    expect(bob.status).toBe(200);
    expect(parseRateLimit(bob.headers['ratelimit'])['r']).toBe(L - 1);
  });

  it('shares one budget across routes for the same client', async () => {
    await call(t.url, '/ping', { key: 'routes' });
    const b = await call(t.url, '/batch', { key: 'routes', body: { queries: ['a'] } });
    expect(parseRateLimit(b.headers['ratelimit'])['r']).toBe(L - 2);
  });

  it('leaves skipped routes and controllers alone', async () => {
    for (let i = 0; i < L; i++) await call(t.url, '/ping', { key: 'skipper' });
    expect((await call(t.url, '/ping', { key: 'skipper' })).status).toBe(429);
    for (const path of ['/health', '/docs']) {
      const res = await call(t.url, path, { key: 'skipper' });
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit']).toBeUndefined();
      expect(res.headers['ratelimit-policy']).toBeUndefined();
    }
  });
});

describe('IP tracking for unauthenticated requests', () => {
  const L = 3;
  // Linux routes all of 127/8 to loopback, so a client bound to 127.0.0.2 is another address.
  const fromSecondAddress = new Agent({ localAddress: '127.0.0.2' });
  afterAll(() => fromSecondAddress.close());

  it('counts by client address, apart from authenticated keys, and ignores a spoofed X-Forwarded-For', async () => {
    const rejections: RejectionEvent[] = [];
    const t = await startTestApp({ requests: L, windowSeconds: 60, onRejected: (e) => rejections.push(e) });
    try {
      for (let i = 0; i < L; i++) {
        const res = await call(t.url, '/ping', { headers: { 'x-forwarded-for': `203.0.113.${i}` } });
        expect(res.status).toBe(200);
      }
      // A fresh forwarded address does not buy a fresh bucket: trustProxy is off.
      const spoofed = await call(t.url, '/ping', { headers: { 'x-forwarded-for': '198.51.100.99' } });
      expect(spoofed.status).toBe(429);
      expect(rejections).toEqual([expect.objectContaining({ kind: 'ip', name: '127.0.0.1' })]);

      // Another address has its own bucket, and an authenticated key from the blocked address is not blocked.
      expect((await call(t.url, '/ping', { dispatcher: fromSecondAddress })).status).toBe(200);
      expect((await call(t.url, '/ping', { key: 'from-blocked-ip' })).status).toBe(200);
      expect((await call(t.url, '/ping')).status).toBe(429);
    } finally {
      await t.close();
    }
  });

  it('follows the address Fastify derives when the app trusts a proxy', async () => {
    const t = await startTestApp({ requests: 1, windowSeconds: 60 }, { trustProxy: true });
    try {
      expect((await call(t.url, '/ping', { headers: { 'x-forwarded-for': '203.0.113.1' } })).status).toBe(200);
      expect((await call(t.url, '/ping', { headers: { 'x-forwarded-for': '203.0.113.1' } })).status).toBe(429);
      expect((await call(t.url, '/ping', { headers: { 'x-forwarded-for': '203.0.113.2' } })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('window reset', () => {
  it('lets requests through again once the window has ended', async () => {
    const t = await startTestApp({ requests: 2, windowSeconds: 1 });
    try {
      // The first request starts the window; the next two fall inside it.
      expect((await call(t.url, '/ping', { key: 'w' })).status).toBe(200);
      expect((await call(t.url, '/ping', { key: 'w' })).status).toBe(200);
      const refused = await call(t.url, '/ping', { key: 'w' });
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('1');
      await new Promise((r) => setTimeout(r, 1100));
      const again = await call(t.url, '/ping', { key: 'w' });
      expect(again.status).toBe(200);
      expect(parseRateLimit(again.headers['ratelimit'])['r']).toBe(1);
    } finally {
      await t.close();
    }
  });
});

describe('wiring the guard by hand', () => {
  it('limits nothing with globalGuard: false until the app places the guard, after the auth guard', async () => {
    const unguarded = await startTestApp({ requests: 1, windowSeconds: 60, globalGuard: false });
    try {
      const res = await call(unguarded.url, '/ping', { key: 'k' });
      expect(res.headers['ratelimit']).toBeUndefined();
      expect((await call(unguarded.url, '/ping', { key: 'k' })).status).toBe(200);
    } finally {
      await unguarded.close();
    }

    const rejections: RejectionEvent[] = [];
    const placed = await startTestApp(
      { requests: 1, windowSeconds: 60, globalGuard: false, onRejected: (e) => rejections.push(e) },
      {},
      (app) => app.useGlobalGuards(app.get(RateLimitGuard)),
    );
    try {
      expect((await call(placed.url, '/ping', { key: 'k' })).status).toBe(200);
      expect((await call(placed.url, '/ping', { key: 'k' })).status).toBe(429);
      // Guards added with useGlobalGuards run after APP_GUARD ones, so the key was already known.
      expect(rejections).toEqual([expect.objectContaining({ kind: 'key', name: 'k' })]);
    } finally {
      await placed.close();
    }
  });
});
