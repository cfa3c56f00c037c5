import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { LOG_EXIT_WAIT_MS } from './log.destination';
import { installFatalHandlers } from './log.fatal';
import { createPino } from './log.root';

const CHILD = join(__dirname, '..', 'testing', 'fatal-child.ts');

type Died = { code: number | null; stdout: string; stderr: string };

/** The node command line of testing/fatal-child.ts (the lib's own code under ts-node). */
const childArgv = (how: 'throw' | 'reject' | 'exit', lines: number) => ['-r', require.resolve('ts-node/register/transpile-only'), CHILD, how, String(lines)];

/** Runs `file args` with the env the child needs and collects what it wrote. */
function run(file: string, args: string[]): Promise<Died> {
  // ts-node settings Nx sets for Jest are dropped so the lib's tsconfig applies.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TS_NODE_')));
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: { ...env, TS_NODE_PROJECT: join(__dirname, '..', '..', 'tsconfig.lib.json') }, timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

/** Runs testing/fatal-child.ts and collects what it wrote. */
const runChild = (how: 'throw' | 'reject' | 'exit', lines: number) => run(process.execPath, childArgv(how, lines));

/**
 * The same child, its stdout a pipe nobody reads for `lagSeconds` (a log collector that fell
 * behind): `child | (sleep; cat)` in bash, whose pipefail status is the child's.
 */
function runChildBehindReader(lines: number, lagSeconds: number): Promise<Died> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, ...childArgv('throw', lines)].map(quote).join(' ');
  return run('bash', ['-c', `set -o pipefail; ${command} 2>/dev/null | (sleep ${lagSeconds}; cat)`]);
}

const parse = (stdout: string) => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the buffered stdout log when the process dies', () => {
  // 40 short lines are well under the buffer's size: without a flush they would never be written.
  it.each([
    ['throw', 'uncaught exception'],
    ['reject', 'unhandled rejection'],
  ] as const)('on a %s: writes every buffered line, then the error at fatal, and exits 1', async (how, msg) => {
    const { code, stdout } = await runChild(how, 40);
    expect(code).toBe(1);
    const lines = parse(stdout);
    expect(lines.slice(0, 40).map((l) => l['msg'])).toEqual(Array.from({ length: 40 }, (_, i) => `line ${i}`));
    expect(lines[40]).toMatchObject({ level: 60, service: 'fatal-child', msg, err: { type: 'Error', message: 'kaput' } });
    expect(String((lines[40]['err'] as { stack: string }).stack)).toContain('fatal-child.ts');
    expect(lines).toHaveLength(41);
  }, 40_000);

  it('on an uncaught exception while stdout\'s reader lags: writes every line, in order, the error last', async () => {
    // ~850 KB of lines, thirteen times what the pipe holds: most are still waiting when the process dies.
    const { code, stdout } = await runChildBehindReader(10_000, 1);
    expect(code).toBe(1);
    const lines = parse(stdout);
    expect(lines.slice(0, -1).map((l) => l['i'])).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(lines[lines.length - 1]).toMatchObject({ level: 60, msg: 'uncaught exception' });
  }, 40_000);

  it('on an uncaught exception while stdout\'s reader takes nothing: waits LOG_EXIT_WAIT_MS for it, says on stderr what was lost, exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-fatal-'));
    try {
      const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const command = [process.execPath, ...childArgv('throw', 3000)].map(quote).join(' ');
      const [status, stderr] = [join(dir, 'status'), join(dir, 'stderr')];
      // The reader never reads; it leaves once the child has exited (a stuck log collector).
      const script =
        `{ start=$(date +%s%N); ${command} 2>${quote(stderr)}; code=$?; ` +
        `echo "$code $(( ($(date +%s%N) - start) / 1000000 ))" > ${quote(status)}; } | ` +
        `{ while [ ! -s ${quote(status)} ]; do sleep 0.1; done; }`;
      await run('bash', ['-c', script]);
      const [code, ms] = readFileSync(status, 'utf8').trim().split(' ').map(Number);
      expect(code).toBe(1);
      // It waited (the process's start-up comes on top), then gave up rather than hang.
      expect(ms).toBeGreaterThanOrEqual(LOG_EXIT_WAIT_MS);
      expect(ms).toBeLessThan(LOG_EXIT_WAIT_MS + 15_000);
      expect(readFileSync(stderr, 'utf8')).toMatch(/^\d+ bytes of log were not written: stdout's reader took nothing for 5000 ms$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);

  it('on process.exit: writes every buffered line', async () => {
    const { code, stdout } = await runChild('exit', 40);
    expect(code).toBe(3);
    expect(parse(stdout).map((l) => l['msg'])).toEqual(Array.from({ length: 40 }, (_, i) => `line ${i}`));
  }, 40_000);
});

describe('installFatalHandlers', () => {
  it('logs the error at fatal and exits 1, from either event; the returned function removes both handlers', () => {
    const written: string[] = [];
    const stream = new Writable({ write: (chunk, _enc, done) => (written.push(String(chunk)), done()) });
    const exit = jest.fn();
    const before = { e: process.listeners('uncaughtException'), r: process.listeners('unhandledRejection') };
    const remove = installFatalHandlers(createPino({ level: 'info', service: 'svc', stream }), exit);
    const onException = process.listeners('uncaughtException').find((l) => !before.e.includes(l));
    const onRejection = process.listeners('unhandledRejection').find((l) => !before.r.includes(l));
    try {
      (onException as (e: unknown) => void)(new Error('kaput'));
      (onRejection as (e: unknown) => void)('not even an Error');
      expect(exit.mock.calls).toEqual([[1], [1]]);
      const lines = written.map((l) => JSON.parse(l));
      expect(lines[0]).toMatchObject({ level: 60, msg: 'uncaught exception', err: { message: 'kaput' } });
      expect(lines[1]).toMatchObject({ level: 60, msg: 'unhandled rejection', err: 'not even an Error' });
    } finally {
      remove();
    }
    expect(process.listeners('uncaughtException')).toEqual(before.e);
    expect(process.listeners('unhandledRejection')).toEqual(before.r);
  });
});
