import { parseTargets } from '@ml/upstream-pool';
import { createServer as createTcpServer } from 'node:net';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { UpstreamClient, type UpstreamClientSettings } from './upstream.client';
import { UpstreamUnavailableError } from './upstream.errors';

/** A real endpoint: answers predictions, or breaks the connection once it has the whole request. */
class Endpoint {
  server!: Server;
  port = 0;
  mode: 'ok' | 'reset' = 'ok';
  ready = true;
  received: { path: string; host?: string }[] = [];
  async start() {
    this.server = createServer((req: IncomingMessage, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        if (req.url === '/health/ready') {
          res.writeHead(this.ready ? 200 : 503).end('{}');
          return;
        }
        this.received.push({ path: req.url ?? '', host: req.headers.host });
        if (this.mode === 'reset') {
          req.socket.destroy();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ echo: JSON.parse(raw || 'null'), port: this.port }));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  stop() {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(r));
  }
}

/** A port nothing listens on: connections are refused. */
async function closedPort(): Promise<string> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

const ENDPOINTS = { dnsRefreshMs: 0, ejectAfterFailures: 2, ejectAfterFailedPolls: 1, readmitAfterPolls: 2 };
const SETTINGS: UpstreamClientSettings = {
  // One counted failure opens the breaker: whatever it does not count shows.
  breaker: { failureThreshold: 1, recoveryTimeoutMs: 60_000, windowMs: 10_000, failureRateThreshold: 1, minimumCalls: 1000, slowCallMs: 10_000, halfOpenMaxProbes: 1 },
  retry: { maxAttempts: 3, baseDelayMs: 1, budgetRatio: 1 },
  connections: 4,
  endpoints: ENDPOINTS,
};

const call = (u: UpstreamClient, i: number) => u.call<{ port: number }>('POST', '/predict/intent', { query: `q${i}` }, { requestId: `r${i}`, budgetMs: 3000 });

describe('UpstreamClient over several endpoints (real sockets)', () => {
  const clients: UpstreamClient[] = [];
  const endpoints: Endpoint[] = [];
  const client = (urls: string[], over: Partial<UpstreamClientSettings> = {}) => {
    const u = new UpstreamClient('intent-classifier', parseTargets(urls.join(',')), { ...SETTINGS, ...over });
    clients.push(u);
    return u;
  };
  const endpoint = async () => {
    const e = await new Endpoint().start();
    endpoints.push(e);
    return e;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(endpoints.splice(0).map((e) => e.stop()));
  });

  it('spreads calls over both endpoints', async () => {
    const [a, b] = [await endpoint(), await endpoint()];
    const u = client([a.url, b.url]);
    await Promise.all(Array.from({ length: 40 }, (_, i) => call(u, i)));
    expect(a.received.length).toBeGreaterThan(0);
    expect(b.received.length).toBeGreaterThan(0);
    expect(a.received.length + b.received.length).toBe(40);
  });

  it('a refused endpoint: every call answered by the other, the endpoint ejected, the breaker never counting', async () => {
    const ok = await endpoint();
    const dead = await closedPort();
    const u = client([dead, ok.url]);
    for (let i = 0; i < 10; i++) expect((await call(u, i)).body.port).toBe(ok.port);
    expect(u.breaker.state).toBe('closed');
    expect(u.pool.endpoints().find((e) => e.url === dead)).toMatchObject({ state: 'ejected', reason: 'failures', failures: 2 });
  });

  it('with no endpoint left the failures count: the breaker opens', async () => {
    const u = client([await closedPort(), await closedPort()]);
    await expect(call(u, 1)).rejects.toBeInstanceOf(UpstreamUnavailableError);
    await expect(call(u, 2)).rejects.toMatchObject({ code: expect.stringMatching(/UPSTREAM_UNAVAILABLE|BREAKER_OPEN/) });
    expect(u.breaker.state).toBe('open');
  });

  it('one URL: every failure counts against the breaker, as before', async () => {
    const u = client([await closedPort()]);
    // The first attempt's refusal opens the breaker, which refuses the retry.
    await expect(call(u, 1)).rejects.toMatchObject({ code: 'BREAKER_OPEN' });
    expect(u.breaker.state).toBe('open');
  });

  it('a connection broken before any answer is sent again elsewhere only for a model without side effects', async () => {
    const broken = await endpoint();
    const ok = await endpoint();
    broken.mode = 'reset';
    const safe = client([broken.url, ok.url], { retrySentRequests: true, endpoints: { ...ENDPOINTS, ejectAfterFailures: 100 } });
    // The pool picks at random between the two (power of two choices on equal load), so a fixed
    // handful of calls can all miss the broken one (1 in 64 for six; CI saw it). Call until one
    // reached it: every call, including that one, is answered by the other endpoint.
    for (let i = 0; i < 6 || (broken.received.length === 0 && i < 60); i++) expect((await call(safe, i)).body.port).toBe(ok.port);
    const reached = broken.received.length;
    expect(reached).toBeGreaterThan(0);

    const unsafe = client([broken.url, ok.url], { retrySentRequests: false, endpoints: { ...ENDPOINTS, ejectAfterFailures: 100 } });
    const results: PromiseSettledResult<unknown>[] = [];
    for (let round = 0; round < 10 && broken.received.length === reached; round++) {
      results.push(...(await Promise.allSettled(Array.from({ length: 6 }, (_, i) => call(unsafe, round * 6 + i)))));
    }
    const failed = results.filter((r) => r.status === 'rejected');
    // Every call that reached the broken endpoint failed there and was not repeated.
    expect(failed.length).toBe(broken.received.length - reached);
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect((f as PromiseRejectedResult).reason).toBeInstanceOf(UpstreamUnavailableError);
    expect(unsafe.breaker.state).toBe('closed');
  });

  it('readiness polls eject an endpoint that is not ready and re-admit it after two good polls', async () => {
    const [a, b] = [await endpoint(), await endpoint()];
    const u = client([a.url, b.url]);
    a.ready = false;
    expect(await u.pollEndpoints()).toBe(true);
    expect(u.pool.endpoints().find((e) => e.url === a.url)).toMatchObject({ state: 'ejected', reason: 'not_ready', ready: false });
    for (let i = 0; i < 8; i++) expect((await call(u, i)).body.port).toBe(b.port);
    a.ready = true;
    await u.pollEndpoints();
    expect(u.pool.endpoints().find((e) => e.url === a.url)?.state).toBe('ejected');
    await u.pollEndpoints();
    expect(u.pool.endpoints().find((e) => e.url === a.url)?.state).toBe('up');
    b.ready = false;
    a.ready = false;
    expect(await u.pollEndpoints()).toBe(false);
  });

  it('a name whose address stops answering is looked up again at once, and a new address replaces it', async () => {
    const a = await endpoint();
    let answer = ['127.0.0.1'];
    let lookups = 0;
    const u = client([`http://intent.internal:${a.port}`], {
      endpoints: { ...ENDPOINTS, dnsRefreshMs: 3_600_000, ejectAfterFailures: 1 },
      resolver: async () => {
        lookups++;
        return answer;
      },
    });
    await u.start();
    expect(lookups).toBe(1);
    await a.stop();
    // The pod moved: the old address refuses, the name now gives another.
    answer = ['127.0.0.2'];
    await expect(call(u, 1)).rejects.toBeDefined();
    await new Promise((r) => setTimeout(r, 20));
    expect(lookups).toBe(2);
    expect(u.pool.endpoints().map((e) => e.url)).toEqual([`http://127.0.0.2:${a.port}`]);
  });

  it('an address found by DNS is sent the configured Host', async () => {
    const a = await endpoint();
    const u = client([`http://intent.internal:${a.port}`], {
      endpoints: { ...ENDPOINTS, dnsRefreshMs: 60_000 },
      resolver: async (name) => (name === 'intent.internal' ? ['127.0.0.1'] : []),
    });
    await u.start();
    expect(u.pool.endpoints().map((e) => e.url)).toEqual([a.url]);
    await call(u, 1);
    expect(a.received[0].host).toBe(`intent.internal:${a.port}`);
  });
});
