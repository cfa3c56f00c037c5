import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisBudget } from '@ml/redis';
import { CacheUnavailableError } from './cache.errors';
import type {
  CacheStore,
  Guard,
  JsonValue,
  ProbeableStore,
} from './cache.types';
import { FallbackStore, type DegradedChange } from './fallback.store';
import { MemoryStore } from './memory.store';
import { PredictionCache } from './prediction.cache';
import { RedisStore } from './redis.store';

jest.setTimeout(30_000);

const HOUR = 3_600_000;
const PREFIX = `test:cache:fallback:${process.pid}:${randomUUID()}:`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A private redis-server for tests that break Redis; the shared one is never touched. */
class RedisProcess {
  private child: ChildProcess | undefined;

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start: ${output}`)),
        10_000,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${output}`));
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT'); // in case a test left it paused
    child.kill('SIGTERM');
    await exited;
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }
}

/** Options a gateway would use: never queue while offline, time out every command. */
function boundedClient(port: number): RedisOptions {
  return {
    host: '127.0.0.1',
    port,
    enableOfflineQueue: false,
    commandTimeout: 300,
    retryStrategy: () => 50,
    lazyConnect: true,
    // disconnect() of a client whose socket is already gone arms this timer; keep it short.
    disconnectTimeout: 50,
  };
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs `op`, failing the test if it takes longer than `limitMs`. */
async function within<T>(limitMs: number, op: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await op();
  expect(Date.now() - started).toBeLessThan(limitMs);
  return result;
}

describe('FallbackStore against a private redis-server', () => {
  let server: RedisProcess;
  let client: Redis;
  let store: FallbackStore;
  let memory: MemoryStore;
  let changes: DegradedChange[];

  beforeEach(async () => {
    server = new RedisProcess(await freePort());
    await server.start();
    client = new Redis(boundedClient(server.port));
    // The app logs these; here they are expected while the server is down.
    client.on('error', () => undefined);
    await client.connect();
    memory = new MemoryStore({ max: 100 });
    store = new FallbackStore({
      primary: new RedisStore({ client, keyPrefix: PREFIX }),
      fallback: memory,
      probeIntervalMs: 100,
    });
    changes = [];
    store.onDegradedChange((c) => changes.push(c));
  });

  afterEach(async () => {
    store.close();
    client.disconnect();
    await server.stop();
  });

  it('keeps answering while Redis is stopped, degrades, and recovers when it is back', async () => {
    await store.set('before', { label: 'a' }, HOUR);
    expect(await client.get(`${PREFIX}before`)).toBe('{"label":"a"}');
    expect(store.degraded).toBe(false);
    expect(memory.size).toBe(0);

    await server.stop();

    // Reads become misses, then memory hits; writes go to memory; nothing throws or hangs.
    expect(await within(1000, () => store.get('before'))).toBeUndefined();
    expect(store.degraded).toBe(true);
    expect(changes).toEqual([
      { degraded: true, error: expect.any(CacheUnavailableError) },
    ]);
    expect(store.lastError).toBeInstanceOf(CacheUnavailableError);
    await within(1000, () => store.set('during', { label: 'b' }, HOUR));
    expect(await within(1000, () => store.get('during'))).toEqual({
      label: 'b',
    });
    expect(await within(1000, () => store.delete('during'))).toBe(true);
    for (let i = 0; i < 20; i += 1) {
      await within(1000, () => store.set(`k${i}`, i, HOUR));
      expect(await within(1000, () => store.get(`k${i}`))).toBe(i);
    }
    expect(memory.size).toBe(20);

    await server.start(); // same port
    await waitFor(() => !store.degraded, 10_000);
    expect(changes).toEqual([
      { degraded: true, error: expect.any(CacheUnavailableError) },
      { degraded: false },
    ]);
    expect(store.lastError).toBeUndefined();

    // Healthy again: writes and reads use Redis (which lost its data: it has no persistence).
    await store.set('after', 'c', HOUR);
    expect(await client.get(`${PREFIX}after`)).toBe('"c"');
    expect(await store.get('after')).toBe('c');
    expect(await store.get('k0')).toBeUndefined();
  });

  it('a stalled Redis is cut off by commandTimeout instead of hanging the caller', async () => {
    await store.set('k', 'v', HOUR);
    server.pause();
    try {
      // Takes about commandTimeout (300 ms), not forever.
      expect(await within(1500, () => store.get('k'))).toBeUndefined();
      expect(store.degraded).toBe(true);
      await store.set('k', 'local', HOUR);
      expect(await store.get('k')).toBe('local');
    } finally {
      server.resume();
    }
    await waitFor(() => !store.degraded, 10_000);
    expect(await store.get('k')).toBe('v');
  });

  it("waits on a stalled Redis no longer than the request's budget, then not at all", async () => {
    await store.set('k', 'v', HOUR);
    // A spent budget: the fallback answers (a miss here) and Redis is not asked, nor blamed.
    const spent = new RedisBudget(5);
    await expect(spent.run(() => new Promise((r) => setTimeout(r, 10)))).rejects.toThrow(/budget/);
    expect(await store.get('k', spent)).toBeUndefined();
    expect(store.degraded).toBe(false);
    expect(await store.get('k', new RedisBudget(250))).toBe('v');

    server.pause();
    try {
      // The request has 60 ms left of its budget: the read gives up then, not at commandTimeout (300 ms).
      const budget = new RedisBudget(60);
      const started = performance.now();
      expect(await store.get('k', budget)).toBeUndefined();
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(55);
      expect(waited).toBeLessThan(200);
      expect(store.degraded).toBe(true);
      // Degraded: nothing waits, budget or not.
      expect(await within(50, () => store.get('k', new RedisBudget(250)))).toBeUndefined();
      expect(await within(50, () => store.set('k', 'local', HOUR))).toBeUndefined();
    } finally {
      server.resume();
    }
    await waitFor(() => !store.degraded, 10_000);
    expect(await store.get('k', new RedisBudget(250))).toBe('v');
  });

  it('serves the gateway cache through the outage without failing a prediction', async () => {
    const cache = new PredictionCache({ name: 'predictions', store });
    let runs = 0;
    const compute = async () => {
      runs += 1;
      return { label: 'x', run: runs };
    };
    const key = cache.key('m', '1', { text: 'hi' });
    expect(await cache.getOrCompute(key, compute, HOUR)).toMatchObject({
      cached: false,
    });
    expect(await cache.getOrCompute(key, compute, HOUR)).toMatchObject({
      cached: true,
    });

    await server.stop();
    expect(
      await within(1000, () => cache.getOrCompute(key, compute, HOUR)),
    ).toEqual({ value: { label: 'x', run: 2 }, cached: false });
    expect(
      await within(1000, () => cache.getOrCompute(key, compute, HOUR)),
    ).toEqual({ value: { label: 'x', run: 2 }, cached: true });
    expect(store.degraded).toBe(true);
  });
});

/** A switchable circuit breaker, as the app would plug in through `guard`. */
function switchableGuard() {
  const state = { open: false };
  const guard: Guard = (op) =>
    state.open
      ? Promise.reject(
          Object.assign(new Error('breaker open'), { code: 'BREAKER_OPEN' }),
        )
      : op();
  return { state, guard };
}

describe('FallbackStore with a guard on the shared Redis', () => {
  let client: Redis;

  beforeAll(async () => {
    client = new Redis({ ...boundedClient(6379), commandTimeout: 1000 });
    await client.connect();
  });

  afterAll(async () => {
    const keys = await client.keys(`${PREFIX}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  function build(probeIntervalMs = 50) {
    const breaker = switchableGuard();
    const memory = new MemoryStore({ max: 10 });
    const store = new FallbackStore({
      primary: new RedisStore({
        client,
        keyPrefix: PREFIX,
        guard: breaker.guard,
      }),
      fallback: memory,
      probeIntervalMs,
    });
    const changes: DegradedChange[] = [];
    store.onDegradedChange((c) => changes.push(c));
    return { breaker, memory, store, changes };
  }

  it('degrades when the guard refuses and recovers once it lets calls through', async () => {
    const { breaker, memory, store, changes } = build();
    try {
      breaker.state.open = true;
      await store.set('g1', 'v', HOUR);
      expect(store.degraded).toBe(true);
      expect(await client.exists(`${PREFIX}g1`)).toBe(0);
      expect(await memory.get('g1')).toBe('v');
      expect(await store.get('g1')).toBe('v');

      breaker.state.open = false;
      await waitFor(() => !store.degraded, 5000);
      expect(changes.map((c) => c.degraded)).toEqual([true, false]);
      expect(await store.get('g1')).toBeUndefined(); // Redis never had it
    } finally {
      store.close();
    }
  });

  it('delete removes the entry from Redis and from the memory copy', async () => {
    const { breaker, memory, store } = build();
    try {
      breaker.state.open = true;
      await store.set('d', 'old', HOUR);
      breaker.state.open = false;
      await waitFor(() => !store.degraded, 5000);
      await store.set('d', 'new', HOUR);
      expect(await store.delete('d')).toBe(true);
      expect(await memory.get('d')).toBeUndefined();
      expect(await client.exists(`${PREFIX}d`)).toBe(0);
      expect(await store.delete('d')).toBe(false);
    } finally {
      store.close();
    }
  });

  it('throws caller mistakes in either mode without degrading', async () => {
    const { breaker, store } = build();
    try {
      await expect(store.set('x', 'v', 0)).rejects.toMatchObject({
        code: 'CACHE_INVALID_ARGUMENT',
      });
      await expect(
        store.set('x', 1n as unknown as JsonValue, HOUR),
      ).rejects.toMatchObject({
        code: 'CACHE_INVALID_ARGUMENT',
      });
      expect(store.degraded).toBe(false);
      breaker.state.open = true;
      await store.get('x');
      expect(store.degraded).toBe(true);
      await expect(store.set('x', 'v', -5)).rejects.toMatchObject({
        code: 'CACHE_INVALID_ARGUMENT',
      });
    } finally {
      store.close();
    }
  });

  it('stops probing once closed', async () => {
    const { breaker, store } = build(20);
    breaker.state.open = true;
    await store.get('x');
    store.close();
    breaker.state.open = false;
    await new Promise((r) => setTimeout(r, 150));
    expect(store.degraded).toBe(true);
  });

  it('relays the memory store’s evictions', async () => {
    const { breaker, store } = build();
    try {
      const evicted: string[] = [];
      store.onEviction((e) => evicted.push(e.key));
      breaker.state.open = true;
      for (let i = 0; i < 12; i += 1) await store.set(`e${i}`, i, HOUR);
      expect(evicted).toEqual(['e0', 'e1']);
    } finally {
      store.close();
    }
  });
});

describe('FallbackStore flips', () => {
  /** A primary whose calls settle when the test says so. */
  class ManualPrimary implements ProbeableStore {
    pending: Array<{
      resolve: (v: unknown) => void;
      reject: (e: unknown) => void;
    }> = [];
    pingOk = false;
    private call<T>(): Promise<T> {
      return new Promise<T>((resolve, reject) =>
        this.pending.push({ resolve: resolve as (v: unknown) => void, reject }),
      );
    }
    get<T extends JsonValue>(): Promise<T | undefined> {
      return this.call();
    }
    set(): Promise<void> {
      return this.call();
    }
    delete(): Promise<boolean> {
      return this.call();
    }
    async ping(): Promise<void> {
      if (!this.pingOk) throw new Error('still down');
    }
  }

  it('ignores a late failure of a call started before the store recovered', async () => {
    const primary = new ManualPrimary();
    const store = new FallbackStore({
      primary,
      fallback: new MemoryStore({ max: 10 }),
      probeIntervalMs: 10,
    });
    try {
      const slow = store.get('slow'); // started while healthy, settles much later
      const failing = store.get('a');
      primary.pending[1]?.reject(new Error('down'));
      expect(await failing).toBeUndefined();
      expect(store.degraded).toBe(true);

      primary.pingOk = true;
      await waitFor(() => !store.degraded, 2000);
      primary.pending[0]?.reject(new Error('stale failure'));
      expect(await slow).toBeUndefined();
      expect(store.degraded).toBe(false);
    } finally {
      store.close();
    }
  });

  it('works with a fallback that cannot report evictions', async () => {
    const plain: CacheStore = {
      get: async () => undefined,
      set: async () => undefined,
      delete: async () => false,
    };
    const store = new FallbackStore({
      primary: new ManualPrimary(),
      fallback: plain,
    });
    const off = store.onEviction(() => undefined);
    off();
    expect(store.degraded).toBe(false);
    store.close();
  });

  it('refuses a probe interval that is not positive', () => {
    expect(
      () =>
        new FallbackStore({
          primary: new ManualPrimary(),
          fallback: new MemoryStore({ max: 1 }),
          probeIntervalMs: 0,
        }),
    ).toThrow(/probeIntervalMs/);
  });
});
