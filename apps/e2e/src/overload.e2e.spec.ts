import { readFileSync } from 'node:fs';
import { closedLoop, percentile } from './support/closed-loop';
import { http } from './support/http';
import { startApp, type RunningApp } from './support/processes';

import { createHash } from 'node:crypto';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const KEY = 'flood-key-secret';
const QUIET = 'quiet-key-secret';
const DEADLINE_MS = 2000;
/** The fairness test's deadline: tight enough that 500 connections overload this machine past it. */
const TIGHT_MS = 100;

const rssMb = (app: RunningApp) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${app.proc.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function waitReady(url: string) {
  for (let i = 0; i < 300; i++) {
    if ((await http(url + '/health/ready')).status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

/**
 * Overload through the gateway: 512 connections of unique queries, rate limit out of the way.
 * Every answer must be a 200 or a 503 that says it was shed, within the deadline plus 250 ms at
 * p99; the gateway stays up, its memory bounded and its probes answered throughout.
 */
describe('overload: shed, not queued', () => {
  let intent: RunningApp;
  let gateway: RunningApp;

  beforeAll(async () => {
    intent = await startApp('intent-classifier', { NODE_OPTIONS: '--max-semi-space-size=8' });
    await waitReady(intent.url);
    // Access log at info, as deployed.
    gateway = await startApp('gateway', {
      INTENT_CLASSIFIER_URL: intent.url,
      ANOMALY_DETECTOR_URL: 'http://127.0.0.1:9',
      RATE_LIMIT_REQUESTS: '1000000000',
      ML_API_KEYS: `flood:${sha(KEY)},quiet:${sha(QUIET)}`,
      REQUEST_TIMEOUT_MS: String(DEADLINE_MS),
    });
    await waitReady(gateway.url);
    // Warm: the gateway learns the model version (cache keys) and both apps JIT their hot paths.
    for (let i = 0; i < 50; i++) await http(`${gateway.url}/predict/intent`, { body: { query: `warm up ${i}` }, headers: { 'x-api-key': KEY } });
  });
  afterAll(async () => {
    await gateway?.stop();
    await intent?.stop();
  });

  it('512 connections of unique queries: 200 or shed within the deadline + 250 ms at p99, probes answered, memory bounded, process up', async () => {
    const rssBefore = rssMb(gateway);
    let probing = true;
    const probes: { status: number; ms: number }[] = [];
    const prober = (async () => {
      while (probing) {
        for (const path of ['/health/live', '/health/ready', '/metrics']) {
          const t = performance.now();
          const res = await http(gateway.url + path);
          probes.push({ status: res.status, ms: performance.now() - t });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(gateway))), 200);
    const run = `${process.pid}-${Date.now()}`;
    const result = await closedLoop({
      port: gateway.port,
      connections: 512,
      durationMs: 5000,
      request: (i) => ({
        path: '/predict/intent',
        headers: { 'x-api-key': KEY },
        body: JSON.stringify({ query: `my card ${run} number ${i} has still not arrived` }),
      }),
    });
    clearInterval(sampler);
    probing = false;
    await prober;

    const total = result.latencies.length;
    const p50 = percentile(result.latencies, 50);
    const p99 = percentile(result.latencies, 99);
    const max = result.latencies[total - 1];
    const slowProbe = Math.max(...probes.map((p) => p.ms));
    // The gateway's own view of the same requests (its access log), to tell server time from client time.
    const serverMs = gateway.lines.flatMap((l) => {
      const m = /"responseTime":([\d.]+)/.exec(l);
      return m ? [Number(m[1])] : [];
    });
    const serverMax = Math.max(0, ...serverMs);
    // The figures the issue asks for, in the test output.
    process.stdout.write(
      `overload: ${total} answers in 5 s (${JSON.stringify(result.statuses)}), p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, ` +
        `max ${max.toFixed(0)} ms; gateway RSS ${rssBefore.toFixed(0)} -> peak ${peakRss.toFixed(0)} MB; ${probes.length} probes, slowest ${slowProbe.toFixed(0)} ms; slowest answers ${JSON.stringify(result.slowest)}; server-side max ${serverMax.toFixed(0)} ms over ${serverMs.length} logged\n`,
    );

    expect(result.unexpected).toEqual([]);
    expect(Object.keys(result.statuses).map(Number).every((s) => s === 200 || s === 503)).toBe(true);
    expect(result.unmarked503).toBe(0);
    expect(result.statuses[200] ?? 0).toBeGreaterThan(total / 4);
    expect(p99).toBeLessThanOrEqual(DEADLINE_MS + 250);
    expect(probes.length).toBeGreaterThan(10);
    expect(probes.every((p) => p.status === 200)).toBe(true);
    expect(peakRss).toBeLessThan(400);
    expect(gateway.proc.exitCode).toBeNull();
    expect(intent.proc.exitCode).toBeNull();

    // Overload never became an outage: the breaker stayed closed and a request right after is answered.
    const health = await http(`${gateway.url}/monitoring/health`, { headers: { 'x-api-key': KEY } });
    expect(health.json.upstreams['intent-classifier'].breaker).toBe('closed');
    const after = await http(`${gateway.url}/predict/intent`, { body: { query: 'I lost my card' }, headers: { 'x-api-key': KEY } });
    expect(after.status).toBe(200);
  });

  it("is fair across keys: one key's flood is shed before another key's requests, and overload is never an outage", async () => {
    const run = `${process.pid}-${Date.now()}-fair`;
    // 500 connections from one key and 4 from another, all asking for a 100 ms deadline that this
    // machine cannot meet for 500 at once. Clients honour Retry-After (1 s) as the problem asks; a
    // client that ignores it costs a shed per round trip, which is the per-key rate limit's business
    // (raised out of the way here). The code before load shedding answered every request of this
    // test 503: its breaker counted the timeouts and opened for both keys.
    const load = (key: string, connections: number) =>
      closedLoop({
        port: gateway.port,
        connections,
        durationMs: 5000,
        // The first second is the flood's opening burst, admitted before anything was seen to
        // queue and answered (or shed) for everyone alike: fairness is measured after it.
        measureAfterMs: 1000,
        backoffOn503Ms: 1000,
        request: (i) => ({
          path: '/predict/intent',
          headers: { 'x-api-key': key, 'x-request-timeout-ms': String(TIGHT_MS) },
          body: JSON.stringify({ query: `where is my card ${run} ${key.length} ${i}` }),
        }),
      });
    const [flood, quiet] = await Promise.all([load(KEY, 500), load(QUIET, 4)]);
    const ok = (r: typeof flood) => (r.statuses[200] ?? 0) / Math.max(1, r.latencies.length);
    process.stdout.write(`fairness: flood ${JSON.stringify(flood.statuses)} (${(ok(flood) * 100).toFixed(1)}% 200, p99 ${percentile(flood.latencies, 99).toFixed(0)} ms), quiet ${JSON.stringify(quiet.statuses)} (${(ok(quiet) * 100).toFixed(1)}% 200)\n${JSON.stringify(quiet.samples)}\n`);
    expect(flood.statuses[503] ?? 0).toBeGreaterThan(0);
    expect(quiet.latencies.length).toBeGreaterThan(20);
    // After the opening burst, in three runs: the quiet key 98-100% answered, the flood 92-93% (the
    // rest shed), p99 113-125 ms.
    const shed = (r: typeof flood) => (r.statuses[503] ?? 0) / Math.max(1, r.latencies.length);
    expect(ok(quiet)).toBeGreaterThan(0.75);
    // Fairness is the gateway's: the model app behind it sees gateway replicas, not clients (one
    // coalesced batch mixes keys), so its own deadline shedding falls on both keys alike. On a busy
    // 2-core CI runner that share once reached 5.6% for the quiet key against the flood's 9.3%, so
    // the bound is "less shed than the flood", not a fixed ratio.
    expect(shed(quiet)).toBeLessThan(shed(flood));
    expect(ok(flood)).toBeGreaterThan(0.5);
    // Shed, not queued: the flood's answers, 200 or shed, come back within the deadline + 250 ms.
    expect(percentile(flood.latencies, 99)).toBeLessThanOrEqual(TIGHT_MS + 250);
  });
});
