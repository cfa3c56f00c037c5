import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** A server the benchmark started as a child process. */
export interface RunningServer {
  name: string;
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  pid: number;
  /** Milliseconds from spawning the process to the first 200 on its ready path (polled every 20 ms). */
  startToReadyMs: number;
  /** The last lines the process wrote (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface LaunchOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /**
   * Where the server listens. A number: that port on 127.0.0.1. `'from-log'`: the process chooses
   * (PORT=0) and announces it with a line containing `listening on http://host:port`.
   */
  port: number | 'from-log';
  /** Polled with GET until it answers 200; the server counts as started only then. */
  readyPath: string;
  timeoutMs?: number;
  /** Keep stdin open as a pipe, so a child that watches it exits when the benchmark dies. */
  stdinPipe?: boolean;
  /**
   * Append the child's stdout and stderr to this file (as a log collector would read them) instead
   * of piping them to the benchmark; needs a numeric `port`. With `BENCH_LOG_PIPE=1` in the
   * benchmark's environment they go to a FIFO instead, which a `cat` process appends to the file:
   * a container's stdout as its runtime reads it (see {@link logDescriptor}).
   */
  logFile?: string;
  /** Run under `taskset -c cpus` instead of the list {@link pinServers} set. */
  cpus?: string;
}

/**
 * CPU pinning (`--server-cpus`, `--driver-cpus`): servers run under `taskset -c <list>`, as a
 * container with that many cores would (a CPU limit of 1 ~ one core), and the benchmark's own
 * load generator can be kept off those cores. Children inherit the benchmark's affinity otherwise.
 */
let serverCpus: string | undefined;

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** Every server launched from now on runs under `taskset -c cpus` (undefined: no pinning). */
export function pinServers(cpus: string | undefined): void {
  if (cpus !== undefined && !CPU_LIST.test(cpus)) throw new Error(`--server-cpus: not a CPU list (e.g. 0 or 0-1 or 0,2): ${cpus}`);
  serverCpus = cpus;
}

/** Pins this process (every thread: the load generator and its sockets) to `cpus` with `taskset -a -p`. */
export function pinSelf(cpus: string): void {
  if (!CPU_LIST.test(cpus)) throw new Error(`--driver-cpus: not a CPU list (e.g. 1): ${cpus}`);
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}

const children = new Set<ChildProcess>();
let cleanupInstalled = false;

/** Kills every child still running; called on exit and on SIGINT/SIGTERM of the benchmark. */
export function killAllChildren(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once('exit', () => killAllChildren());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping child processes\n`);
      killAllChildren();
      process.exit(130);
    });
  }
}

/** A port that was free a moment ago (the OS picks it; we release it for the child to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resident set size of a process in MB (Linux /proc), or undefined where there is no /proc. */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Where the apps' logs go, for reports: files, or with BENCH_LOG_PIPE=1 pipes copied to files. */
export function logsGoTo(): string {
  return process.env['BENCH_LOG_PIPE'] === '1' ? 'logs to a pipe (FIFO) copied to a file by cat, BENCH_LOG_PIPE=1' : 'logs to a file';
}

/**
 * A descriptor for a child's stdout that ends in `file`: the file itself, or with
 * `BENCH_LOG_PIPE=1` the write end of a FIFO a `cat` process copies to the file, as a container
 * runtime reads a container's stdout (a diagnosis: the deployed apps write a pipe in Kubernetes).
 * The `cat` runs where the benchmark does (its CPU pinning, e.g. `--driver-cpus`), outside the
 * server's cores as the runtime is outside the container's CPU limit, and ends when the child does.
 */
function logDescriptor(file: string): number {
  if (process.env['BENCH_LOG_PIPE'] !== '1') return openSync(file, 'a');
  const fifo = `${file}.fifo`;
  execFileSync('mkfifo', [fifo]);
  const out = openSync(file, 'a');
  const collector = spawn('cat', [fifo], { stdio: ['ignore', out, 'inherit'] });
  closeSync(out);
  children.add(collector);
  collector.once('exit', () => children.delete(collector));
  // Opening a FIFO for writing waits for its reader: cat opens it at once.
  const fd = openSync(fifo, 'w');
  unlinkSync(fifo);
  return fd;
}

/** Starts a child process and resolves once its ready path answers 200. */
export async function launch(options: LaunchOptions): Promise<RunningServer> {
  installCleanup();
  const timeoutMs = options.timeoutMs ?? 120_000;
  const env: Record<string, string> = { ...options.env };
  if (typeof options.port === 'number') env['PORT'] = String(options.port);
  else env['PORT'] ??= '0';

  if (options.logFile && options.port === 'from-log') throw new Error(`${options.name}: logFile needs a numeric port`);
  const logFd = options.logFile ? logDescriptor(options.logFile) : undefined;
  const spawnedAt = performance.now();
  // taskset execs the command: the child's pid stays the server's own.
  const cpus = options.cpus ?? serverCpus;
  const [command, args] = cpus === undefined ? [options.command, options.args] : ['taskset', ['-c', cpus, options.command, ...options.args]];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env,
    stdio: [options.stdinPipe ? 'pipe' : 'ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
  });
  if (logFd !== undefined) closeSync(logFd); // the child has its own copy
  children.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );

  const lines: string[] = [];
  let announced: string | undefined = typeof options.port === 'number' ? `http://127.0.0.1:${options.port}` : undefined;
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffer += chunk;
      let i: number;
      while ((i = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        lines.push(line);
        if (lines.length > 200) lines.shift();
        const m = /listening on (http:\/\/[^"\s]+)/.exec(line);
        if (m && options.port === 'from-log') announced ??= m[1];
      }
    });
  }
  const output = () => {
    if (!options.logFile) return lines.join('\n');
    try {
      return readFileSync(options.logFile, 'utf8').split('\n').slice(-200).join('\n');
    } catch {
      return '';
    }
  };

  const stop = async (graceMs = 15_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin?.end();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + timeoutMs;
  let done = false;
  void exited.then(() => (done = true));
  while (Date.now() < deadline) {
    if (done) throw new Error(`${options.name} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready:\n${output()}`);
    if (announced && (await isReady(announced + options.readyPath))) {
      return { name: options.name, url: announced, pid: child.pid ?? -1, startToReadyMs: performance.now() - spawnedAt, output, stop };
    }
    await sleep(20);
  }
  await stop(1_000);
  throw new Error(`${options.name} was not ready within ${timeoutMs} ms:\n${output()}`);
}
