import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { deployedEnv, withOverrides, type EnvOverride } from './deployed';
import { freePort, launch, type RunningServer } from './processes';

export { runLoad, type LoadOptions, type LoadResult, type LatencySummary } from './load';
export type { RunningServer } from './processes';
export type { EnvOverride } from './deployed';

/** The workspace root (this file is tools/bench/src/lib/targets.ts). */
export const WORKSPACE_ROOT = join(__dirname, '..', '..', '..', '..');
const BENCH_ROOT = join(WORKSPACE_ROOT, 'tools', 'bench');

export type BareKind = 'once' | 'batched';

/** PATH and HOME only: children must not inherit the benchmark's settings by accident. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '' };
  if (process.env['HOME']) env['HOME'] = process.env['HOME'];
  return env;
}

/**
 * Starts a bare `node:http` server for the intent model (see bare-server.ts) as a child process and
 * resolves once it has loaded, warmed up and answers on its port.
 */
export function startBareServer(
  kind: BareKind,
  modelPath: string,
  options: { maxBatch?: number; maxDelayMs?: number } = {},
): Promise<RunningServer> {
  return launchBareServer(`bare-${kind}`, 'bare-server.ts', modelPath, { ...options, extraArgs: ['--kind', kind] });
}

/**
 * Runs one of the bare server scripts of tools/bench/src (under ts-node) on `modelPath` with the
 * micro-batching bounds (32 rows, 1 ms unless given), and resolves once it answers on its port.
 */
export function launchBareServer(
  name: string,
  script: string,
  modelPath: string,
  options: { maxBatch?: number; maxDelayMs?: number; extraArgs?: string[] } = {},
): Promise<RunningServer> {
  if (!existsSync(modelPath)) throw new Error(`${modelPath} does not exist`);
  const args = [
    ...profilerArgs(name),
    '-r',
    require.resolve('ts-node/register/transpile-only'),
    // @ml/* imports (the fair anomaly baseline runs the app's libraries).
    '-r',
    require.resolve('tsconfig-paths/register'),
    join(BENCH_ROOT, 'src', script),
    ...(options.extraArgs ?? []),
    '--model',
    modelPath,
    '--max-batch',
    String(options.maxBatch ?? 32),
    '--max-delay-ms',
    String(options.maxDelayMs ?? 1),
    '--exit-with-stdin',
  ];
  return launch({
    name,
    command: process.execPath,
    args,
    cwd: WORKSPACE_ROOT,
    env: { ...baseEnv(), TS_NODE_PROJECT: join(BENCH_ROOT, 'tsconfig.json'), TS_NODE_BASEURL: WORKSPACE_ROOT },
    port: 'from-log',
    readyPath: '/health/ready',
    stdinPipe: true,
  });
}

/** Runs and items a bare server has served, for its mean batch size. */
export async function bareStats(baseUrl: string): Promise<{ runs: number; items: number }> {
  const res = await fetch(`${baseUrl}/stats`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as { runs: number; items: number };
}

/**
 * Node flags each app is deployed with (k8s/, docker/compose.yaml, tools/scripts/start.mjs, its
 * `nx serve` runtimeArgs): every benchmark starts an app as it runs in production unless `env`
 * sets NODE_OPTIONS itself ('' for none).
 */
export const DEPLOYED_NODE_OPTIONS: Readonly<Record<string, string>> = {
  'intent-classifier': '--max-semi-space-size=8',
};

/**
 * Starts a built app (`dist/apps/<name>/main.js`; build it first) as a child process with
 * LOG_LEVEL=warn and its deployed NODE_OPTIONS unless `env` says otherwise, and resolves once
 * `GET /health/ready` answers 200.
 *
 * The app announces its address in an info-level log line, which LOG_LEVEL=warn hides, so unless
 * `env.PORT` names a port the benchmark picks a free one and passes it as PORT.
 */
export async function startApp(name: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const main = join(WORKSPACE_ROOT, 'dist', 'apps', name, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`NX_DAEMON=false npx nx build ${name}\` first`);
  const requested = Number(env['PORT'] ?? 0);
  const port = requested > 0 ? requested : await freePort();
  return launch({
    name,
    command: process.execPath,
    args: [main],
    cwd: WORKSPACE_ROOT,
    env: { ...baseEnv(), HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_OPTIONS: DEPLOYED_NODE_OPTIONS[name] ?? '', ...env },
    port,
    readyPath: '/health/ready',
  });
}

/**
 * With `BENCH_CPU_PROF=<dir>`, every deployed app and every baseline server runs under V8's
 * sampling profiler and writes a `.cpuprofile` per thread into `<dir>/<name>` when it exits (Node refuses `--cpu-prof` in
 * NODE_OPTIONS, so it goes on the command line). For finding where an app's time goes; a profiled
 * run is slower, so its figures are not results.
 */
export function profilerArgs(name: string, dir = process.env['BENCH_CPU_PROF']): string[] {
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, name)}`] : [];
}

/** A change to the deployed env: a value, or undefined to remove the variable; and why. */
export type EnvChange = { value: string | undefined; why: string };

export interface DeployedAppOptions {
  /** Where the app's stdout and stderr (its logs, access log included) are appended. */
  logFile: string;
  /** LOG_LEVEL; default the deployed one (k8s/config.yaml: info). */
  logLevel?: string;
  /** REDIS_URL to use; default none (the deployed `redis://redis:6379/0` is removed). */
  redisUrl?: string;
  /** Pin this app to these CPUs (`taskset -c`) instead of the list every server gets (`--server-cpus`). */
  cpus?: string;
  /** What this benchmark must change besides address, port, Redis and log level, each with its reason. */
  changes?: Record<string, EnvChange>;
  /**
   * The checkout whose build (`<root>/dist/apps/<name>/main.js`, resolving its own node_modules) is
   * run; default this workspace. The env is always this workspace's k8s/, so two builds compare
   * under the same deployment.
   */
  root?: string;
}

export interface DeployedApp extends RunningServer {
  /** Every way its env differs from the Deployment's, with reasons (secrets redacted). */
  overrides: EnvOverride[];
  logFile: string;
}

/**
 * Starts a built app (`dist/apps/<name>/main.js`) as it is deployed: the env of its Deployment in
 * k8s/ (ConfigMap, Secret and the Deployment's own `env`: NODE_ENV=production, LOG_LEVEL=info,
 * NODE_OPTIONS, ...), its logs appended to `logFile` rather than piped to the benchmark, and only
 * the changes a benchmark on one machine needs: 127.0.0.1 and a free port, no shutdown delay (no
 * load balancer to drain), no Redis unless `redisUrl`, `logLevel`, and `changes`. The result lists them.
 */
export async function startDeployedApp(name: string, options: DeployedAppOptions): Promise<DeployedApp> {
  const root = options.root ?? WORKSPACE_ROOT;
  const main = join(root, 'dist', 'apps', name, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`NX_DAEMON=false npx nx build ${name}\` first`);
  const deployed = deployedEnv(name);
  const port = await freePort();
  const { env, overrides } = withOverrides(deployed, {
    HOST: { value: '127.0.0.1', why: 'local address' },
    PORT: { value: String(port), why: 'a free local port' },
    SHUTDOWN_DELAY_MS: { value: '0', why: 'no load balancer to drain: stops at once between targets' },
    REDIS_URL: { value: options.redisUrl, why: options.redisUrl ? 'local Redis' : 'no Redis in this scenario (in-memory)' },
    CACHE_REDIS_URL: { value: options.redisUrl, why: options.redisUrl ? 'local Redis' : 'no Redis in this scenario (in-memory)' },
    // The prod overlay finds its state Redis through Sentinel: this host has none.
    REDIS_SENTINELS: { value: undefined, why: options.redisUrl ? 'the local Redis instead' : 'no Redis in this scenario (in-memory)' },
    REDIS_SENTINEL_NAME: { value: undefined, why: 'goes with REDIS_SENTINELS' },
    REDIS_CLUSTER_NODES: { value: undefined, why: options.redisUrl ? 'the local Redis instead' : 'no Redis in this scenario (in-memory)' },
    ...(options.logLevel !== undefined ? { LOG_LEVEL: { value: options.logLevel, why: '--log-level' } } : {}),
    ...options.changes,
  });
  const server = await launch({
    name,
    command: process.execPath,
    args: [...profilerArgs(name), main],
    // Relative paths of the deployed env (the shipped models) are the checkout's own.
    cwd: root,
    env: { ...baseEnv(), ...env },
    port,
    readyPath: '/health/ready',
    logFile: options.logFile,
    cpus: options.cpus,
  });
  // The port changes with every start: listed as what it is, so runs compare.
  const listed = overrides.map((o) => (o.name === 'PORT' ? { ...o, bench: '<free port>' } : o));
  return { ...server, overrides: listed, logFile: options.logFile };
}
