/** What every benchmark script does the same way: options, progress lines, models, a first check. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultLoadEngine, setDefaultLoadEngine, wrkOnPath, type LoadEngine } from './load';
import { pinSelf, pinServers } from './processes';

/** The load options every benchmark takes, with the same defaults (spread into parseArgs options). */
export const LOAD_OPTIONS = {
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '3' },
  rounds: { type: 'string', default: '1' },
  connections: { type: 'string', default: '32' },
  'server-cpus': { type: 'string' },
  'driver-cpus': { type: 'string' },
  engine: { type: 'string' },
} as const;

/** The as-deployed options every benchmark takes: the apps' LOG_LEVEL (a list compares levels) and where their logs go. */
export const LOG_OPTIONS = {
  'log-level': { type: 'string', default: 'info' },
  'log-dir': { type: 'string' },
} as const;

/** The CPU options' help lines, for every benchmark's usage text. */
export const CPU_USAGE = `  --server-cpus <list>     run every server (apps and baselines) under taskset -c <list>, e.g. 0 for
                           the one core of a CPU limit of 1 (k8s/); default: no pinning
  --driver-cpus <list>     pin the benchmark itself (the load generator) to <list>, e.g. 1`;

/** The load engine option's help line, for every benchmark's usage text. */
export const ENGINE_USAGE = `  --engine wrk|autocannon  the load generator (default: wrk when it is on PATH, Debian's package
                           wrk; else autocannon, which takes about twice the CPU from the servers)`;

/**
 * Applies `--engine` (exit 2 when unknown, or wrk when it is not installed) and returns the engine
 * every load of this run uses unless it asks for another (the preconnected tails).
 */
export function applyLoadEngine(usage: string, value: string | undefined): LoadEngine {
  if (value === undefined) return defaultLoadEngine();
  if (value !== 'wrk' && value !== 'autocannon') {
    console.error(`--engine must be wrk or autocannon (got ${value})\n${usage}`);
    process.exit(2);
  }
  if (value === 'wrk' && !wrkOnPath()) {
    console.error('--engine wrk: no wrk on PATH (apt-get install wrk)');
    process.exit(2);
  }
  setDefaultLoadEngine(value);
  return value;
}

/**
 * Applies the CPU options and `--engine` together; `setup` is the report's line for both
 * (`servers pinned to CPU 0 (taskset -c), load generator wrk`).
 */
export function applyLoadOptions(usage: string, args: { 'server-cpus'?: string; 'driver-cpus'?: string; engine?: string }): { engine: LoadEngine; setup: string } {
  const engine = applyLoadEngine(usage, args.engine);
  const setup = [applyCpuOptions(usage, args), `load generator ${engine}`].filter(Boolean).join(', ');
  return { engine, setup };
}

/** A numeric option, or exit 2 with the usage text. */
export function positiveOption(usage: string, name: string, text: string | undefined, allowZero = false): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    console.error(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${text})\n${usage}`);
    process.exit(2);
  }
  return n;
}

/** A progress line on stderr (stdout carries the report), stamped with the time of day. */
export const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;
const semverParts = (v: string) => (SEMVER.exec(v) ?? []).slice(1).map(Number);

/** The highest `x.y.z` folder of `dir` holding both model.onnx and manifest.json. */
export function highestModelVersion(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir)
    .filter((v) => SEMVER.test(v) && existsSync(join(dir, v, 'model.onnx')) && existsSync(join(dir, v, 'manifest.json')))
    .sort((a, b) => {
      const [pa, pb] = [semverParts(a), semverParts(b)];
      return pb[0] - pa[0] || pb[1] - pa[1] || pb[2] - pa[2];
    })[0];
}

/** One request before the load, so a broken target or invalid traffic fails loudly instead of measuring 4xx rates. */
export async function checkAnswers(url: string, path: string, body: string, expectKey: string): Promise<void> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  if (res.status !== 200 || !text.includes(`"${expectKey}"`)) throw new Error(`${url}${path} answered ${res.status}: ${text.slice(0, 500)}`);
}

/**
 * Applies `--server-cpus` and `--driver-cpus` (exit 2 on a bad list) and returns a line for the
 * report, or undefined when nothing is pinned.
 */
export function applyCpuOptions(usage: string, args: { 'server-cpus'?: string; 'driver-cpus'?: string }): string | undefined {
  try {
    pinServers(args['server-cpus']);
    if (args['driver-cpus'] !== undefined) pinSelf(args['driver-cpus']);
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
  const parts = [
    args['server-cpus'] !== undefined ? `servers pinned to CPU ${args['server-cpus']} (taskset -c)` : undefined,
    args['driver-cpus'] !== undefined ? `load generator pinned to CPU ${args['driver-cpus']}` : undefined,
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : undefined;
}
