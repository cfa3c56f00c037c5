import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export const ROOT = join(__dirname, '..', '..', '..', '..');

export type AppName = 'gateway' | 'intent-classifier' | 'anomaly-detector';

export interface RunningApp {
  name: AppName;
  proc: ChildProcess;
  url: string;
  port: number;
  /** Every line the process wrote to stdout and stderr. */
  lines: string[];
  /** Resolves with the exit code once the process has exited and all it wrote has been read. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function entryOf(name: AppName) {
  const main = join(ROOT, 'dist', 'apps', name, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build the apps first (nx run e2e:e2e does).`);
  return main;
}

/**
 * A FIFO for a child's stdout, as Docker and containerd give a container's: the write end for the
 * child (blocking, as a runtime opens it) and a stream reading the other end.
 */
function fifo(): { writeFd: number; reader: Socket } {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-stdout-'));
  const path = join(dir, 'stdout');
  try {
    execFileSync('mkfifo', [path]);
    // The reader first, non-blocking (opening it waits for no writer), then the writer.
    const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeFd = openSync(path, constants.O_WRONLY);
    return { writeFd, reader: new Socket({ fd: readFd, readable: true, writable: false }) };
  } finally {
    // The open descriptors keep the FIFO.
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts a built app as a real process on a free port (PORT=0) and resolves when it logs the
 * address it listens on. Its stdout is a socket pair (Node's `pipe`), or with `stdout: 'fifo'` a
 * FIFO, as in a container.
 */
export function startApp(name: AppName, env: Record<string, string> = {}, timeoutMs = 30_000, { stdout = 'pipe' }: { stdout?: 'pipe' | 'fifo' } = {}): Promise<RunningApp> {
  const out = stdout === 'fifo' ? fifo() : undefined;
  const proc = spawn(process.execPath, [entryOf(name)], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', out?.writeFd ?? 'pipe', 'pipe'],
  });
  // The child has its own copy: the reader sees the end of the FIFO when the child's closes.
  if (out) closeSync(out.writeFd);
  const streams: (Readable | null)[] = [out?.reader ?? proc.stdout, proc.stderr];
  const lines: string[] = [];
  // 'close' comes once the child's own stdio has ended; a FIFO's reader ends on its own.
  const closed = (stream: Readable | null) => new Promise<void>((resolve) => (stream && !stream.closed ? stream.once('close', () => resolve()) : resolve()));
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code))).then(async (code) => {
    await closed(out?.reader ?? null);
    return code;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not start in ${timeoutMs} ms:\n${lines.join('\n')}`));
    }, timeoutMs);
    const onLine = (line: string) => {
      lines.push(line);
      const m = /listening on (http:\/\/[^"\s]+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        const url = m[1];
        resolve({
          name,
          proc,
          url,
          port: Number(new URL(url).port),
          lines,
          exited,
          stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
      }
    };
    for (const stream of streams) {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening:\n${lines.join('\n')}`));
    });
  });
}

/**
 * Resolves with the first line `match` accepts, waiting for it if need be: apps buffer their log
 * (written every 50 ms or 4 KB), so a line shows up a little after what it records.
 */
export async function waitForLine(app: RunningApp, match: (line: string) => boolean, timeoutMs = 2000): Promise<string | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const line = app.lines.find(match);
    if (line !== undefined || Date.now() > until) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs a built app expecting it to fail at boot; resolves with its exit code and output. */
export function runToExit(name: AppName, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [entryOf(name)], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout?.on('data', (d) => (output += d));
  proc.stderr?.on('data', (d) => (output += d));
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
