import autocannon from 'autocannon';
import { Client } from 'undici';

export interface LoadOptions {
  /** Concurrent connections, each with one request in flight (closed loop). */
  connections: number;
  /** Measured seconds. */
  durationSec: number;
  /** Seconds of unmeasured load first. Engine `preconnected` warms on the very connections it measures. */
  warmupSec?: number;
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Called once per request for its body, so every request can differ. */
  body?: () => string;
  /** How many items (queries) one request carries; for items/s. Default 1. */
  itemsPerRequest?: number;
  /**
   * `autocannon` (default): fast, but opens its connections when the clock starts, so connection
   * setup lands in the first latencies. `preconnected`: undici clients connected and warmed before
   * measuring; use it for tails at high concurrency.
   */
  engine?: 'autocannon' | 'preconnected';
  timeoutSec?: number;
}

export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  engine: 'autocannon' | 'preconnected';
  connections: number;
  /** Seconds the measured phase really lasted. */
  durationSec: number;
  /** Completed 2xx responses. */
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  reqPerSec: number;
  itemsPerSec: number;
  /** Milliseconds, over 2xx responses. */
  latencyMs: LatencySummary;
}

/** Latencies in a growable typed array: exact percentiles, no histogram bucketing. */
class LatencyRecorder {
  private values = new Float64Array(1 << 16);
  private length = 0;

  add(ms: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = ms;
  }

  get count(): number {
    return this.length;
  }

  summary(): LatencySummary {
    const sorted = this.values.slice(0, this.length).sort();
    const n = sorted.length;
    if (n === 0) return { mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i];
    return { mean: sum / n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1] };
  }
}

/** Runs a closed-loop load against `url` (the server's base URL) and returns what was measured. */
export async function runLoad(url: string, options: LoadOptions): Promise<LoadResult> {
  const engine = options.engine ?? 'autocannon';
  return engine === 'preconnected' ? runPreconnected(url, options) : runAutocannon(url, options);
}

function headersOf(options: LoadOptions): Record<string, string> {
  return options.body ? { 'content-type': 'application/json', ...options.headers } : { ...options.headers };
}

async function autocannonPass(url: string, options: LoadOptions, durationSec: number) {
  const recorder = new LatencyRecorder();
  const method = options.method ?? (options.body ? 'POST' : 'GET');
  const body = options.body;
  const instance = autocannon({
    url,
    connections: options.connections,
    duration: durationSec,
    timeout: options.timeoutSec ?? 10,
    renderProgressBar: false,
    renderResultsTable: false,
    renderLatencyTable: false,
    requests: [
      {
        method,
        path: options.path,
        headers: headersOf(options),
        // Present only with a body: an explicit undefined would replace autocannon's default.
        ...(body ? { setupRequest: (request: autocannon.Request) => ({ ...request, body: body() }) } : {}),
      },
    ],
  });
  // autocannon's own histogram keeps whole milliseconds; record the exact times instead.
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) recorder.add(ms);
  });
  const result = await instance;
  return { result, recorder };
}

async function runAutocannon(url: string, options: LoadOptions): Promise<LoadResult> {
  if (options.warmupSec && options.warmupSec > 0) await autocannonPass(url, options, options.warmupSec);
  const { result, recorder } = await autocannonPass(url, options, options.durationSec);
  const ok = recorder.count;
  return {
    engine: 'autocannon',
    connections: options.connections,
    durationSec: result.duration,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    reqPerSec: ok / result.duration,
    itemsPerSec: (ok * (options.itemsPerRequest ?? 1)) / result.duration,
    latencyMs: recorder.summary(),
  };
}

async function runPreconnected(url: string, options: LoadOptions): Promise<LoadResult> {
  const method = options.method ?? (options.body ? 'POST' : 'GET');
  const headers = headersOf(options);
  const timeoutMs = (options.timeoutSec ?? 10) * 1000;
  const clients = Array.from(
    { length: options.connections },
    () => new Client(url, { pipelining: 1, keepAliveTimeout: 120_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }),
  );
  const counts = { non2xx: 0, errors: 0, timeouts: 0 };

  async function loop(client: Client, until: number, recorder: LatencyRecorder | undefined, atLeastOnce: boolean) {
    let sent = 0;
    while (performance.now() < until || (atLeastOnce && sent === 0)) {
      sent++;
      const started = performance.now();
      try {
        const res = await client.request({ method, path: options.path, headers, body: options.body?.() });
        await res.body.dump();
        const ms = performance.now() - started;
        if (!recorder) continue;
        if (res.statusCode >= 200 && res.statusCode < 300) recorder.add(ms);
        else counts.non2xx++;
      } catch (e) {
        if (!recorder) continue;
        const code = (e as { code?: string }).code ?? '';
        if (code.includes('TIMEOUT')) counts.timeouts++;
        else counts.errors++;
      }
    }
  }

  try {
    // Every connection is opened and used at least once before the clock starts.
    const warmupMs = (options.warmupSec ?? 1) * 1000;
    const warmEnd = performance.now() + warmupMs;
    await Promise.all(clients.map((c) => loop(c, warmEnd, undefined, true)));

    const recorder = new LatencyRecorder();
    const started = performance.now();
    const until = started + options.durationSec * 1000;
    await Promise.all(clients.map((c) => loop(c, until, recorder, false)));
    const durationSec = (performance.now() - started) / 1000;
    const ok = recorder.count;
    return {
      engine: 'preconnected',
      connections: options.connections,
      durationSec,
      ok,
      ...counts,
      reqPerSec: ok / durationSec,
      itemsPerSec: (ok * (options.itemsPerRequest ?? 1)) / durationSec,
      latencyMs: recorder.summary(),
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}
