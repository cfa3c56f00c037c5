import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule, DEV_API_KEY, loadAuthConfig } from '@ml/auth';
import { loadServiceConfig } from '@ml/config';
import { RateLimitModule } from '@ml/rate-limit';
import { createRedisClient, type Redis } from '@ml/redis';
import { CoreModule, startService, type RunningService } from '@ml/server';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { request } from 'undici';
import { GatewayApiModule } from './gateway-api.module';
import { loadGatewaySettings } from './gateway.config';

jest.setTimeout(40_000);

/** REDIS_COMMAND_TIMEOUT_MS: each request's whole Redis budget (rate-limit counter + cache read). */
const BUDGET_MS = 250;
/** What a request may take beyond its Redis budget: HTTP, validation, the upstream, the test's own loop. */
const SLACK_MS = 50;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createTcpServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A redis-server of this test's own, which it freezes (SIGSTOP); never the shared one. */
async function startRedisServer(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = createRedisClient({ url: `redis://127.0.0.1:${port}/0`, commandTimeoutMs: 200, connectTimeoutMs: 200 }, 'probe');
  try {
    await until(() => probe.ping().then((r) => r === 'PONG', () => false), 10_000);
  } finally {
    probe.disconnect();
  }
  return child;
}

/** A real intent model upstream that answers at once (this test is about Redis, not the model). */
function startUpstream(): Promise<Server> {
  const prediction = { intent: 'card_arrival', confidence: 0.9, top: [], model: { name: 'intent-classifier', version: '1.0.0' } };
  const server = createHttpServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const send = (payload: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (req.url === '/predict/intent/batch') return send({ predictions: (JSON.parse(raw) as { queries: string[] }).queries.map(() => prediction) });
      if (req.url === '/predict/intent') return send(prediction);
      if (req.url?.startsWith('/v2/models/')) return send({ name: 'intent-classifier', versions: ['1.0.0'] });
      send({ status: 'ok' });
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

/**
 * The machine's own jitter in this run: the slowest minus the median latency while Redis is
 * healthy. A few ms on a quiet machine; on a shared 2-core CI box running other suites it can reach
 * 100+ ms, which says nothing about Redis, so the bound allows it on top of budget + slack.
 */
function jitterMs(healthy: Sent[]): number {
  const ms = healthy.map((s) => s.ms).sort((a, b) => a - b);
  return ms[ms.length - 1] - ms[Math.floor(ms.length / 2)];
}

interface Sent {
  at: number;
  ms: number;
  status: number;
}

/**
 * The outside finding this guards against: with the gateway's Redis frozen (SIGSTOP), requests
 * took 300-800 ms, each Redis call (rate-limit counter, cache read, cache write) waiting its own
 * REDIS_COMMAND_TIMEOUT_MS. Now one budget covers the request's Redis calls, the cache write never
 * delays an answer, and once Redis has failed nothing waits on it.
 */
describe('gateway: no request waits on a frozen Redis longer than its budget', () => {
  let redisPort: number;
  let redisServer: ChildProcess;
  let redis: Redis;
  let upstream: Server;
  let svc: RunningService;
  let n = 0;

  beforeAll(async () => {
    redisPort = await freePort();
    redisServer = await startRedisServer(redisPort);
    redis = createRedisClient({ url: `redis://127.0.0.1:${redisPort}/0`, commandTimeoutMs: BUDGET_MS, connectTimeoutMs: 500 }, 'gateway-test');
    await until(() => redis.status === 'ready', 5000);
    upstream = await startUpstream();
    const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    const env = { INTENT_CLASSIFIER_URL: url, ANOMALY_DETECTOR_URL: url, LOG_LEVEL: 'silent', PORT: '0' };
    const config = loadServiceConfig(0, env);
    const mod: DynamicModule = {
      module: class GwBudgetTestModule {},
      imports: [
        CoreModule.forRoot({ service: 'gateway-test', config }),
        AuthModule.forRoot(loadAuthConfig({})),
        // As apps/gateway wires it: the limiter's Redis timeout is REDIS_COMMAND_TIMEOUT_MS.
        RateLimitModule.forRoot({
          requests: 100_000,
          windowSeconds: 60,
          redis,
          redisTimeoutMs: BUDGET_MS,
          keyPrefix: `ml:test:gw-budget:${randomUUID()}:`,
          globalGuard: false,
        }),
        GatewayApiModule.forRoot({ settings: loadGatewaySettings(env), options: { requestTimeoutMs: 2000, transactionRules: { maxAmount: 1000, maxFutureMs: 86_400_000 } }, redis }),
      ],
    };
    Module({})(mod.module);
    svc = await startService({ name: 'gateway-test', module: mod, config });
    await until(async () => (await ready()).upstreams?.['intent-classifier']?.version === '1.0.0', 10_000);
  });
  afterAll(async () => {
    await svc?.shutdown();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
    redis?.disconnect();
    redisServer?.kill('SIGCONT');
    redisServer?.kill('SIGKILL');
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function ready(): Promise<any> {
    const res = await request(`${svc.url}/health/ready`);
    return ((await res.body.json()) as { details: unknown }).details;
  }

  /** One intent query, timed from outside: a few repeat (cache hits), most are new (read, miss, write). */
  async function send(started: number): Promise<Sent> {
    const i = n++;
    const query = i % 4 === 0 ? 'where is my card' : `query number ${i}`;
    const t0 = performance.now();
    const res = await request(`${svc.url}/predict/intent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': DEV_API_KEY },
      body: JSON.stringify({ query }),
    });
    await res.body.text();
    return { at: t0 - started, ms: performance.now() - t0, status: res.statusCode };
  }

  /** A request every `everyMs` for `forMs`, not waiting for answers (steady load, as clients send it). */
  async function steady(everyMs: number, forMs: number, started: number): Promise<Sent[]> {
    const inFlight: Promise<Sent>[] = [];
    const end = performance.now() + forMs;
    while (performance.now() < end) {
      inFlight.push(send(started));
      await new Promise((r) => setTimeout(r, everyMs));
    }
    return Promise.all(inFlight);
  }

  it('answers every request within budget + slack while Redis is frozen, and returns to shared mode by itself', async () => {
    const started = performance.now();
    // Warm-up (connections, first compilation) is not the machine's jitter.
    await steady(20, 300, started);
    const healthy = await steady(20, 600, started);
    expect(healthy.every((s) => s.status === 200)).toBe(true);
    expect(await ready()).toMatchObject({ rate_limit: { mode: 'redis', degraded: false }, redis: { mode: 'redis', cache_degraded: false } });

    redisServer.kill('SIGSTOP');
    let frozen: Sent[];
    try {
      frozen = await steady(20, 1500, started);
      // Both uses noticed, and said so, while it was frozen.
      expect(await ready()).toMatchObject({ rate_limit: { mode: 'memory-fallback', degraded: true }, redis: { cache_degraded: true } });
    } finally {
      redisServer.kill('SIGCONT');
    }
    expect([...new Set(frozen.map((s) => s.status))]).toEqual([200]);
    const worst = Math.max(...frozen.map((s) => s.ms));
    const over100 = frozen.filter((s) => s.ms > 100).length;
    const jitter = jitterMs(healthy);
    process.stdout.write(
      `gateway SIGSTOP: ${frozen.length} requests, worst ${worst.toFixed(1)} ms, ${over100} over 100 ms; ` +
        `machine jitter (healthy worst - median) ${jitter.toFixed(1)} ms\n`,
    );
    expect(worst).toBeLessThanOrEqual(BUDGET_MS + SLACK_MS + jitter);

    // Shared limits and the shared cache again, without a request having to notice.
    await until(async () => {
      const d = await ready();
      return d.rate_limit.mode === 'redis' && d.redis.cache_degraded === false;
    }, 10_000);
    const after = await steady(20, 200, started);
    expect(after.every((s) => s.status === 200)).toBe(true);
    expect(await ready()).toMatchObject({ rate_limit: { mode: 'redis', degraded: false }, redis: { cache_degraded: false } });
  });
});
