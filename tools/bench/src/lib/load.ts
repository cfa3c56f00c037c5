import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Client } from 'undici';
import { loadGeneratorPids } from './cpu';

/**
 * How the closed-loop load is generated.
 * - `wrk` (the default when `wrk` is on PATH; Debian's package `wrk`): C, event-driven, with every
 *   request formatted before the clock starts; less CPU per request than autocannon (measured in
 *   tools/bench/README.md). On a 2-core machine the load
 *   generator shares the cores with the servers it measures, and autocannon's ~0.3 core came out
 *   of what the app (two busy threads) could use, not out of the one-threaded bare servers' share:
 *   the app's ratios were understated (README, Performance). Bodies are generated here first and
 *   handed to wrk in a file, so every request can still differ.
 * - `autocannon`: in this process; the fallback without wrk.
 * - `preconnected`: undici clients connected and warmed before measuring; for tails at high
 *   concurrency.
 */
export type LoadEngine = 'wrk' | 'autocannon' | 'preconnected';

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
   * Default {@link defaultLoadEngine}. `wrk` and `autocannon` open their connections when the clock
   * starts, so connection setup lands in the first latencies; `preconnected` does not.
   */
  engine?: LoadEngine;
  timeoutSec?: number;
  /**
   * Called right before the measured phase starts, after the warm-up and after wrk's bodies are
   * written: where a benchmark takes its CPU snapshot, so that preparing the load is not counted.
   */
  onMeasureStart?: () => void;
  /**
   * wrk only: the most requests per second this load can reach, which sizes the bodies generated
   * up front (default {@link DEFAULT_MAX_ITEMS_PER_SEC}, in items: requests for single items,
   * requests x itemsPerRequest for batches). A run that uses them all fails rather than repeat one.
   */
  maxRequestsPerSec?: number;
  /**
   * wrk only: the bodies may be sent again once all were (a stateless target fed a cycled pool,
   * where a repeat costs what a fresh body would); otherwise such a run fails.
   */
  repeatBodies?: boolean;
}

export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  engine: LoadEngine;
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

/** True when an executable `name` is on PATH. */
function onPath(name: string, path = process.env['PATH'] ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Whether `stdbuf` is on PATH, looked up once per process. */
let stdbufOnPath: boolean | undefined;

/** True when an executable `wrk` is on PATH. */
export const wrkOnPath = (path?: string) => onPath('wrk', path);

let chosenEngine: LoadEngine | undefined;

/** The engine a load without `engine` uses: the one set with {@link setDefaultLoadEngine}, else wrk when on PATH, else autocannon. */
export function defaultLoadEngine(): LoadEngine {
  chosenEngine ??= wrkOnPath() ? 'wrk' : 'autocannon';
  return chosenEngine;
}

export function setDefaultLoadEngine(engine: LoadEngine): void {
  chosenEngine = engine;
}

/** Runs a closed-loop load against `url` (the server's base URL) and returns what was measured. */
export async function runLoad(url: string, options: LoadOptions): Promise<LoadResult> {
  const engine = options.engine ?? defaultLoadEngine();
  if (engine === 'preconnected') return runPreconnected(url, options);
  return engine === 'wrk' ? runWrk(url, options) : runAutocannon(url, options);
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
  options.onMeasureStart?.();
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
    options.onMeasureStart?.();
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

/** Bodies and wrk's own warm-up pass: the bodies of a pass are never those of another. */
async function runWrk(url: string, options: LoadOptions): Promise<LoadResult> {
  if (options.warmupSec && options.warmupSec > 0) await wrkPass(url, { ...options, onMeasureStart: undefined }, options.warmupSec);
  return wrkPass(url, options, options.durationSec);
}

/** Whole bodies handed to wrk at most (bytes), whatever the rate: 256 MB. */
const WRK_BODY_BYTES = 256 * 1024 * 1024;

/**
 * Items a second the generated bodies are sized for when `maxRequestsPerSec` is not given: single
 * items 40,000 (the fastest target here, the gateway's cache hits, reached ~19,000 requests/s on a
 * quiet 2-core machine); items in batches 60,000 (the anomaly fair baseline's 256-batches reached
 * ~28,000 transactions/s there, past the 25,000 this once was, and failed the run).
 */
const DEFAULT_MAX_ITEMS_PER_SEC = { single: 40_000, batched: 60_000 } as const;
const defaultMaxItemsPerSec = (items: number) => (items > 1 ? DEFAULT_MAX_ITEMS_PER_SEC.batched : DEFAULT_MAX_ITEMS_PER_SEC.single);

/**
 * The Lua side: each wrk thread reads its share of the bodies file (one JSON body per line, every
 * `threads`-th line from its index), sends them in order, and flags the run if it ran out; `done`
 * prints the summary as one JSON line (latencies in microseconds).
 */
export function wrkScript(bodiesFile: string | undefined, method: string, path: string, headers: Record<string, string>): string {
  const lua = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Lua string literal for these texts
  const headerTable = Object.entries(headers)
    .map(([k, v]) => `[${lua(k)}] = ${lua(v)}`)
    .join(', ');
  return `
local bodies_file = ${bodiesFile === undefined ? 'nil' : lua(bodiesFile)}
local method, path, headers = ${lua(method)}, ${lua(path)}, { ${headerTable} }
local threads, created = {}, 0
function setup(thread)
  thread:set("index", created)
  created = created + 1
  table.insert(threads, thread)
end
function init(args)
  -- Every request is formatted here, before the clock starts: request() only hands one over.
  requests_, pos, exhausted = {}, 0, 0
  if bodies_file then
    local n, count = 0, tonumber(args[1])
    for line in io.lines(bodies_file) do
      if n % count == index then requests_[#requests_ + 1] = wrk.format(method, path, headers, line) end
      n = n + 1
    end
  else
    requests_[1] = wrk.format(method, path, headers)
  end
end
function request()
  pos = pos + 1
  if pos > #requests_ then
    if bodies_file then exhausted = 1 end
    pos = 1
  end
  return requests_[pos]
end
function done(summary, latency, requests)
  local ran_out = 0
  for _, t in ipairs(threads) do ran_out = ran_out + (t:get("exhausted") or 0) end
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests":%d,"durationUs":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"meanUs":%f,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"ranOut":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, ran_out))
end
`;
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  status: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  ranOut: number;
}

/** Parses the line `done` prints; throws with wrk's output when there is none. */
export function parseWrkOutput(output: string): WrkSummary {
  const line = output.split('\n').find((l) => l.startsWith('WRK_RESULT '));
  if (!line) throw new Error(`wrk printed no result:\n${output.slice(-2000)}`);
  return JSON.parse(line.slice('WRK_RESULT '.length)) as WrkSummary;
}

async function wrkPass(url: string, options: LoadOptions, durationSec: number): Promise<LoadResult> {
  const method = options.method ?? (options.body ? 'POST' : 'GET');
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-wrk-'));
  // One wrk thread: at c=32 it drives more than 12,000 requests a second here on ~0.15 core, and
  // every core it does not take is left to the servers measured.
  const threads = 1;
  try {
    let bodiesFile: string | undefined;
    if (options.body) {
      const items = options.itemsPerRequest ?? 1;
      const wanted = Math.ceil((options.maxRequestsPerSec ?? Math.max(50, defaultMaxItemsPerSec(items) / items)) * (durationSec + 1));
      const chunks: string[] = [];
      let bytes = 0;
      while (chunks.length < wanted && bytes < WRK_BODY_BYTES) {
        const body = options.body();
        if (body.includes('\n')) throw new Error('a wrk body must be one line (JSON.stringify output is)');
        chunks.push(body);
        bytes += body.length + 1;
      }
      bodiesFile = join(dir, 'bodies.txt');
      writeFileSync(bodiesFile, chunks.join('\n') + '\n');
    }
    const script = join(dir, 'load.lua');
    writeFileSync(script, wrkScript(bodiesFile, method, options.path, headersOf(options)));
    const target = new URL(options.path, url).toString();
    const args = [`-t${threads}`, `-c${options.connections}`, `-d${durationSec}s`, `--timeout`, `${options.timeoutSec ?? 10}s`, '-s', script, target, '--', String(threads)];
    const output = await new Promise<string>((resolve, reject) => {
      // wrk prints "Running ..." once its threads have run init() (every request formatted) and
      // its clock starts: the measured phase begins there. Line-buffered (stdbuf) so that the line
      // arrives then rather than at exit; without stdbuf, it begins at the spawn.
      const lineBuffered = (stdbufOnPath ??= onPath('stdbuf'));
      const [command, argv] = lineBuffered ? ['stdbuf', ['-oL', 'wrk', ...args]] : ['wrk', args];
      const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      if (child.pid !== undefined) loadGeneratorPids.add(child.pid);
      let started = false;
      const start = () => {
        if (started) return;
        started = true;
        options.onMeasureStart?.();
      };
      if (!lineBuffered) start();
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!started && out.includes('Running ')) start();
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('exit', () => {
        if (child.pid !== undefined) loadGeneratorPids.delete(child.pid);
      });
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited with ${code}:\n${out.slice(-2000)}`))));
    });
    const r = parseWrkOutput(output);
    if (r.ranOut > 0 && !options.repeatBodies) throw new Error('wrk sent every generated body and would have repeated them: raise maxRequestsPerSec');
    const seconds = r.durationUs / 1e6;
    const ok = r.requests - r.status;
    return {
      engine: 'wrk',
      connections: options.connections,
      durationSec: seconds,
      ok,
      non2xx: r.status,
      errors: r.connect + r.read + r.write,
      timeouts: r.timeout,
      reqPerSec: ok / seconds,
      itemsPerSec: (ok * (options.itemsPerRequest ?? 1)) / seconds,
      // wrk's latencies cover every response (a non-2xx fails the benchmark's check anyway).
      latencyMs: { mean: r.meanUs / 1000, p50: r.p50Us / 1000, p90: r.p90Us / 1000, p99: r.p99Us / 1000, max: r.maxUs / 1000 },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
