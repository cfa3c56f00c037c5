/**
 * `npm start` as a developer sees it (tools/scripts/start.mjs, run as a real process on the built
 * apps): one app killed is announced and restarted while the others keep serving; output is JSON
 * records when piped and rendered text with --pretty (what a terminal gets).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { http } from './support/http';
import { ROOT } from './support/processes';

const DEV_KEY = { 'x-api-key': 'ml-dev-key-do-not-use-in-production' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// eslint-disable-next-line no-control-regex
const plain = (line: string) => line.replace(/\x1b\[[\d;]*m/g, '');

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** A port whose next two are free too: the script puts the gateway there and the model apps after it. */
async function freeBase(): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await portFree(base)) && (await portFree(base + 1)) && (await portFree(base + 2))) return base;
  }
}

interface Script {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  /** Waits for a line `match` accepts among those from index `from` on; returns its index. */
  waitFor(match: (line: string) => boolean, timeoutMs?: number, from?: number): Promise<number>;
}

function runScript(base: number, extra: string[] = [], env: Record<string, string> = {}): Script {
  const proc = spawn(process.execPath, [join(ROOT, 'tools', 'scripts', 'start.mjs'), '--no-build', '--port-base', String(base), ...extra], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const stream of [proc.stdout, proc.stderr]) {
    let buf = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  }
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const waitFor = async (match: (line: string) => boolean, timeoutMs = 30_000, from = 0) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = lines.findIndex((l, n) => n >= from && match(l));
      if (i >= 0) return i;
      if (Date.now() > until || proc.exitCode !== null) throw new Error(`no such line in start.mjs's output:\n${lines.join('\n')}`);
      await sleep(50);
    }
  };
  return { proc, lines, exited, waitFor };
}

const record = (line: string): Record<string, unknown> => {
  try {
    return line.startsWith('{') ? JSON.parse(line) : {};
  } catch {
    return {};
  }
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function ready(url: string, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      if ((await http(`${url}/health/ready`)).status === 200) return true;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return false;
}

describe('npm start (tools/scripts/start.mjs)', () => {
  const scripts: Script[] = [];
  const pids: number[] = [];
  afterAll(async () => {
    for (const s of scripts) if (s.proc.exitCode === null) s.proc.kill('SIGTERM');
    await Promise.all(scripts.map((s) => Promise.race([s.exited, new Promise((r) => setTimeout(r, 15_000).unref())])));
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('announces a killed app, keeps the others serving, restarts it, and stops everything on SIGTERM', async () => {
    const base = await freeBase();
    const gateway = `http://127.0.0.1:${base}`;
    const intent = `http://127.0.0.1:${base + 1}`;
    const script = runScript(base);
    scripts.push(script);
    const started = (name: string) => (l: string) => record(l)['service'] === 'start' && String(record(l)['msg']).startsWith(`started ${name} `);
    for (const name of ['gateway', 'intent-classifier', 'anomaly-detector']) await script.waitFor(started(name));
    const pidOf = (i: number) => Number(record(script.lines[i])['pid']);
    const first = pidOf(await script.waitFor(started('intent-classifier')));
    pids.push(first, ...['gateway', 'anomaly-detector'].map((n) => pidOf(script.lines.findIndex(started(n)))));
    expect(await ready(gateway)).toBe(true);
    expect(await ready(intent)).toBe(true);
    // Piped, every line is a JSON record naming its app.
    expect(script.lines.every((l) => typeof record(l)['service'] === 'string')).toBe(true);

    const mark = script.lines.length;
    process.kill(first, 'SIGKILL');
    const crashed = record(script.lines[await script.waitFor((l) => /intent-classifier CRASHED/.test(l), 10_000, mark)]);
    expect(crashed).toMatchObject({ level: 50, service: 'start', app: 'intent-classifier', signal: 'SIGKILL', restartInMs: 1000 });
    expect(String(crashed['msg'])).toContain('anomaly-detector and gateway keep serving');

    // The others keep serving meanwhile.
    const anomaly = await http(`${gateway}/predict/anomaly`, {
      headers: DEV_KEY,
      body: { transaction_id: 'tx-start-1', user_id: 'u-start', amount: 12.5, currency: 'GBP', timestamp: new Date().toISOString(), merchant_category: 'grocery', channel: 'in_store' },
    });
    expect(anomaly.status).toBe(200);
    expect((await http(`${gateway}/health/ready`)).status).toBe(200);

    // And the killed one comes back, in a new process, and is served through the gateway again.
    const second = pidOf(await script.waitFor(started('intent-classifier'), 10_000, mark));
    pids.push(second);
    expect(second).not.toBe(first);
    expect(await ready(intent)).toBe(true);
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await http(`${gateway}/predict/intent`, { headers: DEV_KEY, body: { query: `where is my card ${i}` } })).status;
      if (status !== 200) await sleep(200);
    }
    expect(status).toBe(200);

    script.proc.kill('SIGTERM');
    expect(await script.exited).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
  }, 90_000);

  it('stops every app when `npm start` itself is sent SIGTERM (the shell npm runs it through does not pass the signal on)', async () => {
    const base = await freeBase();
    const npm = spawn('npm', ['start', '--', '--no-build', '--port-base', String(base), '--json'], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? ROOT },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const npmExited = new Promise((r) => npm.once('exit', r));
    let out = '';
    npm.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
    npm.stderr?.resume();
    const appPids = () => [...out.matchAll(/"msg":"started \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    try {
      expect(await ready(`http://127.0.0.1:${base}`)).toBe(true);
      const started = appPids();
      expect(started).toHaveLength(3);
      pids.push(...started);
      // The apps' parent is start.mjs, under a shell under npm.
      const scriptPid = Number(readFileSync(`/proc/${started[0]}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      expect(scriptPid).not.toBe(npm.pid);
      pids.push(scriptPid);

      npm.kill('SIGTERM');
      await npmExited;
      const until = Date.now() + 20_000;
      while ([scriptPid, ...started].some(alive) && Date.now() < until) await sleep(100);
      expect([scriptPid, ...started].filter(alive)).toEqual([]);
      expect(await portFree(base)).toBe(true);
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
    }
  }, 90_000);

  it('does not restart an app that refused its configuration, and gives up when all did (exit 78)', async () => {
    const script = runScript(await freeBase(), [], { ACCESS_LOG_SAMPLE: '0' });
    scripts.push(script);
    expect(await script.exited).toBe(78);
    const records = script.lines.map(record);
    // Each app named the variable, and none was restarted.
    expect(records.filter((r) => r['variable'] === 'ACCESS_LOG_SAMPLE')).toHaveLength(3);
    expect(records.filter((r) => String(r['msg']).startsWith('started '))).toHaveLength(3);
    expect(records.filter((r) => r['level'] === 60 && r['service'] === 'start').length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('renders coloured text with --pretty (what a terminal gets)', async () => {
    const base = await freeBase();
    const script = runScript(base, ['--pretty']);
    scripts.push(script);
    const i = await script.waitFor((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO {2}gateway +\| \[gateway\] gateway listening on /.test(plain(l)));
    expect(script.lines[i]).toContain('\x1b[');
    for (const line of script.lines) {
      const pid = /started \S+ \(pid (\d+)\)/.exec(plain(line));
      if (pid) pids.push(Number(pid[1]));
    }
    expect(script.lines.filter((l) => plain(l).startsWith('{'))).toEqual([]);
    script.proc.kill('SIGTERM');
    expect(await script.exited).toBe(0);
  }, 60_000);
});
