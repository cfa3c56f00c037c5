import { createHash, randomUUID } from 'node:crypto';
import { promises as dns } from 'node:dns';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { http } from './support/http';
import { startApp, type RunningApp } from './support/processes';

/*
 * Acceptance of issue 14 §1: two intent-classifier replicas as real processes behind one real
 * gateway under steady closed-loop load.
 * - SIGKILL of one replica: only requests already on its sockets may fail, none once the gateway
 *   has ejected it; restarted on the same port, it is re-admitted and gets traffic again.
 * - SIGTERM of one replica (SHUTDOWN_DELAY_MS > the gateway's poll interval): zero failed requests.
 * The second replica is configured as `http://localhost:<port>`: the gateway looks the name up
 * (UPSTREAM_DNS_REFRESH_MS), so its endpoint is the resolved address, and the series of the
 * unresolved URL it started with are gone from /metrics.
 */

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const SECRET = `replicas-${randomUUID()}`;
const KEY = { 'x-api-key': SECRET };
const CONCURRENCY = 6;
const POLL_MS = 200;
const PHASE_MS = 1500;
const MODEL = 'intent-classifier';

interface Sample {
  start: number;
  end: number;
  ok: boolean;
  detail?: string;
}

interface EndpointHealth {
  url: string;
  state: 'up' | 'ejected';
  reason?: string;
  ready: boolean | null;
  requests: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A closed loop of CONCURRENCY clients, each sending one unique query at a time (no cache hits). */
class Load {
  readonly samples: Sample[] = [];
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private readonly agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 10_000 });
  private n = 0;

  constructor(private readonly url: string) {
    for (let i = 0; i < CONCURRENCY; i++) this.loops.push(this.loop());
  }

  private async loop() {
    while (this.running) {
      const start = performance.now();
      const query = `my card has not arrived yet ${process.pid} ${++this.n}`;
      try {
        const res = await request(`${this.url}/predict/intent`, {
          method: 'POST',
          dispatcher: this.agent,
          headers: { ...KEY, 'content-type': 'application/json' },
          body: JSON.stringify({ query }),
        });
        const text = await res.body.text();
        this.samples.push({ start, end: performance.now(), ok: res.statusCode === 200, detail: res.statusCode === 200 ? undefined : `${res.statusCode} ${text.slice(0, 200)}` });
      } catch (e) {
        this.samples.push({ start, end: performance.now(), ok: false, detail: String(e) });
      }
    }
  }

  /** Requests started in [from, to). */
  between(from: number, to = Infinity) {
    const s = this.samples.filter((x) => x.start >= from && x.start < to);
    return { ok: s.filter((x) => x.ok).length, failed: s.filter((x) => !x.ok).length, failures: s.filter((x) => !x.ok).map((x) => x.detail) };
  }

  /** Requests that were on their way at `t`: started before, answered after. */
  inFlightAt(t: number) {
    const s = this.samples.filter((x) => x.start < t && x.end >= t);
    return { ok: s.filter((x) => x.ok).length, failed: s.filter((x) => !x.ok).length, failures: s.filter((x) => !x.ok).map((x) => x.detail) };
  }

  async stop() {
    this.running = false;
    await Promise.all(this.loops);
    await this.agent.close();
  }
}

describe('gateway in front of two intent-classifier replicas', () => {
  let a: RunningApp;
  let b: RunningApp;
  let gateway: RunningApp;
  let load: Load;
  let urlA: string;
  let urlB: string;
  const table: { phase: string; ok: number; failed: number }[] = [];
  const replicaEnv = { SHUTDOWN_DELAY_MS: String(5 * POLL_MS), SHUTDOWN_DRAIN_MS: '5000' };

  const endpoints = async (): Promise<EndpointHealth[]> => {
    const res = await http(`${gateway.url}/monitoring/health`, { headers: KEY });
    return res.json?.upstreams?.[MODEL]?.endpoints ?? [];
  };
  const endpoint = async (url: string) => (await endpoints()).find((e) => e.url === url);
  const successes = async (url: string) => {
    const text = (await http(`${gateway.url}/metrics`)).text;
    const line = text.split('\n').find((l) => l.startsWith('ml_upstream_endpoint_requests_total{') && l.includes(`endpoint="${url}"`) && l.includes(`upstream="${MODEL}"`) && l.includes('outcome="success"'));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  const metric = async (name: string, ...parts: string[]) => {
    const text = (await http(`${gateway.url}/metrics`)).text;
    return text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) && parts.every((p) => l.includes(p)))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };
  const record = (phase: string, from: number, to?: number) => {
    const r = from === to ? load.inFlightAt(from) : load.between(from, to);
    table.push({ phase, ok: r.ok, failed: r.failed });
    return r;
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([startApp(MODEL, replicaEnv), startApp(MODEL, replicaEnv)]);
    await Promise.all([a, b].map((r) => waitFor(`${r.url} ready`, async () => ((await http(`${r.url}/health/ready`)).status === 200 ? true : undefined))));
    // The name the second replica is configured by resolves on this machine to these addresses.
    const addresses = (await dns.lookup('localhost', { all: true, verbatim: true })).map((x) => x.address);
    expect(addresses).toContain('127.0.0.1');
    urlA = `http://127.0.0.1:${a.port}`;
    urlB = `http://127.0.0.1:${b.port}`;
    gateway = await startApp('gateway', {
      ML_API_KEYS: `replicas:${sha(SECRET)}`,
      INTENT_CLASSIFIER_URL: `${urlA}, http://localhost:${b.port}`,
      ANOMALY_DETECTOR_URL: `http://127.0.0.1:${await freePort()}`,
      UPSTREAM_POLL_INTERVAL_MS: String(POLL_MS),
      UPSTREAM_DNS_REFRESH_MS: '500',
      UPSTREAM_EJECT_FAILURES: '3',
      UPSTREAM_READMIT_POLLS: '2',
      RATE_LIMIT_REQUESTS: '1000000',
      REQUEST_TIMEOUT_MS: '5000',
    });
    await waitFor('both replicas admitted', async () => {
      const eps = await endpoints();
      return [urlA, urlB].every((u) => eps.some((e) => e.url === u && e.state === 'up' && e.ready === true)) ? true : undefined;
    });
    load = new Load(gateway.url);
    // Warm: the first requests of a fresh process are slow (JIT, first connections).
    await waitFor('a warm gateway', async () => (load.between(0).ok >= 50 ? true : undefined));
  });

  afterAll(async () => {
    await load?.stop();
    await Promise.all([gateway, a, b].map((p) => p?.stop('SIGKILL')));
    console.log(`upstream replicas, requests by phase (concurrency ${CONCURRENCY}):\n${['phase'.padEnd(44) + 'ok'.padStart(7) + 'failed'.padStart(8), ...table.map((r) => r.phase.padEnd(44) + String(r.ok).padStart(7) + String(r.failed).padStart(8))].join('\n')}`);
  });

  it('resolves the name, balances across both replicas and keeps no series of the unresolved URL', async () => {
    const t0 = performance.now();
    const [a0, b0] = await Promise.all([successes(urlA), successes(urlB)]);
    await sleep(PHASE_MS);
    const r = record('both up', t0, performance.now());
    const [a1, b1] = await Promise.all([successes(urlA), successes(urlB)]);
    expect(r.failed).toBe(0);
    expect(r.ok).toBeGreaterThan(10);
    expect(a1 - a0).toBeGreaterThan(0);
    expect(b1 - b0).toBeGreaterThan(0);
    const eps = await endpoints();
    expect(eps.map((e) => e.url)).toContain(urlB);
    expect(eps.map((e) => e.url)).not.toContain(`http://localhost:${b.port}`);
    const metrics = (await http(`${gateway.url}/metrics`)).text;
    for (const url of [urlA, urlB]) expect(metrics).toMatch(new RegExp(`^ml_upstream_endpoint_up\\{upstream="${MODEL}",endpoint="${url}"[^}]*\\} 1$`, 'm'));
    expect(metrics).not.toContain(`endpoint="http://localhost:${b.port}"`);
  });

  it('SIGKILL of one replica: only requests on its sockets may fail, none after its ejection; restarted, it gets traffic again', async () => {
    const retriesBefore = await metric('ml_upstream_retries_total', `upstream="${MODEL}"`);
    const killedAt = performance.now();
    a.proc.kill('SIGKILL');
    await a.exited;
    const ejected = await waitFor('A ejected', async () => ((await endpoint(urlA))?.state === 'ejected' ? performance.now() : undefined), 10_000);
    await sleep(PHASE_MS);
    const afterEjection = performance.now();
    const inFlight = record('A killed: in flight at the kill', killedAt, killedAt);
    const beforeEjection = record(`A killed: until ejected (${Math.round(ejected - killedAt)} ms)`, killedAt, ejected);
    const ejectedPhase = record('A ejected: B alone', ejected, afterEjection);
    // Only requests that were on A's sockets when it died may fail: at most one per client.
    expect(inFlight.failed + beforeEjection.failed).toBeLessThanOrEqual(CONCURRENCY);
    expect(ejectedPhase.failed).toBe(0);
    expect(ejectedPhase.ok).toBeGreaterThan(10);
    expect((await endpoint(urlA))?.ready).toBe(false);
    // The model's breaker never noticed: B was there to take every retry.
    expect((await http(`${gateway.url}/monitoring/health`, { headers: KEY })).json.upstreams[MODEL].breaker).toBe('closed');
    console.log(
      `A killed: ${await metric('ml_upstream_endpoint_requests_total', `endpoint="${urlA}"`, 'outcome="failure"')} failed attempts on A, ` +
        `${(await metric('ml_upstream_retries_total', `upstream="${MODEL}"`)) - retriesBefore} retries sent elsewhere`,
    );

    const restartedAt = performance.now();
    a = await startApp(MODEL, { ...replicaEnv, PORT: String(a.port) });
    const listening = performance.now();
    await waitFor('A ready', async () => ((await http(`${urlA}/health/ready`)).status === 200 ? true : undefined), 20_000);
    console.log(`A restarted: listening after ${Math.round(listening - restartedAt)} ms, ready after ${Math.round(performance.now() - restartedAt)} ms`);
    const back = await waitFor('A re-admitted', async () => ((await endpoint(urlA))?.state === 'up' ? performance.now() : undefined), 20_000);
    const before = await successes(urlA);
    await sleep(PHASE_MS);
    const restarted = record(`A restarted: until re-admitted (${Math.round(back - restartedAt)} ms)`, restartedAt, back);
    const readmitted = record('A re-admitted: both up', back, performance.now());
    expect(restarted.failed).toBe(0);
    expect(readmitted.failed).toBe(0);
    expect((await successes(urlA)) - before).toBeGreaterThan(0);
  });

  it('SIGTERM of one replica under load: zero failed requests', async () => {
    const termAt = performance.now();
    const exitCode = b.stop('SIGTERM');
    const ejected = await waitFor('B ejected', async () => ((await endpoint(urlB))?.state === 'ejected' ? performance.now() : undefined), 10_000);
    expect(await exitCode).toBe(0);
    const exitedAt = performance.now();
    const aBefore = await successes(urlA);
    await sleep(PHASE_MS);
    const inFlight = record('B SIGTERM: in flight at the signal', termAt, termAt);
    const drain = record(`B SIGTERM: until ejected (${Math.round(ejected - termAt)} ms)`, termAt, ejected);
    const draining = record(`B draining until exit (${Math.round(exitedAt - ejected)} ms)`, ejected, exitedAt);
    const gone = record('B gone: A alone', exitedAt, performance.now());
    expect((await endpoint(urlB))).toMatchObject({ state: 'ejected', reason: 'not_ready' });
    expect(inFlight.failed + drain.failed + draining.failed + gone.failed).toBe(0);
    expect(gone.ok).toBeGreaterThan(10);
    expect((await successes(urlA)) - aBefore).toBeGreaterThan(10);
    // The failures, if any, with what the client got.
    expect([...load.inFlightAt(termAt).failures, ...load.between(termAt).failures]).toEqual([]);
  });
});
