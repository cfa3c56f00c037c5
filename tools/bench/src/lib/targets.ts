import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, launch, type RunningServer } from './processes';

export { runLoad, type LoadOptions, type LoadResult, type LatencySummary } from './load';
export type { RunningServer } from './processes';

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
    '-r',
    require.resolve('ts-node/register/transpile-only'),
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
    env: { ...baseEnv(), TS_NODE_PROJECT: join(BENCH_ROOT, 'tsconfig.json') },
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
