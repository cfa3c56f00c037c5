import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..', '..');

export type AppName = 'gateway' | 'intent-classifier' | 'anomaly-detector';

export interface RunningApp {
  name: AppName;
  proc: ChildProcess;
  url: string;
  port: number;
  /** Every line the process wrote to stdout and stderr. */
  lines: string[];
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function entryOf(name: AppName) {
  const main = join(ROOT, 'dist', 'apps', name, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build the apps first (nx run e2e:e2e does).`);
  return main;
}

/**
 * Starts a built app as a real process on a free port (PORT=0) and resolves when it logs the
 * address it listens on.
 */
export function startApp(name: AppName, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<RunningApp> {
  const proc = spawn(process.execPath, [entryOf(name)], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
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
    for (const stream of [proc.stdout, proc.stderr]) {
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
