#!/usr/bin/env node
// `npm start`: builds the three apps, then runs them side by side on embedded defaults (no Redis,
// shipped models, the development API key). On a terminal their JSON log lines are rendered as
// coloured text; piped, they stay JSON (one record per line, `service` naming the app). An app
// that dies is announced and restarted with backoff while the others keep serving, so the
// gateway's resilience can be tried by killing one. Ctrl-C (or SIGTERM) stops all three, each
// draining its in-flight requests first. With --replicas N the intent classifier runs as N
// processes and the gateway balances over them (kill one to watch it ejected and re-admitted).
//
//   npm start [-- --no-build] [--port-base 3000] [--replicas 1] [--pretty | --json]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatLine, formatRecord, paint } from './log-format.mjs';

const USAGE = `usage: npm start -- [--no-build] [--port-base <port>] [--replicas <n>] [--pretty | --json]
  --no-build          run what dist/ holds
  --port-base <port>  gateway on <port>, intent-classifier on +1, anomaly-detector on +2 (3000)
  --replicas <n>      intent-classifier processes, the 2nd on <port>+3, the 3rd on +4, ... (1, at most 8)
  --pretty / --json   force coloured text / JSON lines (default: text on a terminal, JSON otherwise)`;

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      'no-build': { type: 'boolean', default: false },
      'port-base': { type: 'string', default: '3000' },
      replicas: { type: 'string', default: '1' },
      pretty: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (e) {
  console.error(`${e.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const base = Number(args['port-base']);
if (!Number.isInteger(base) || base < 1 || base > 65533) {
  console.error(`--port-base must be a port number (got ${args['port-base']})\n${USAGE}`);
  process.exit(2);
}

const replicas = Number(args.replicas);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 8 || base + replicas + 1 > 65535) {
  console.error(`--replicas must be a whole number from 1 to 8 (got ${args.replicas})\n${USAGE}`);
  process.exit(2);
}

const pretty = args.json ? false : args.pretty || Boolean(process.stdout.isTTY);
const color = pretty && !process.env.NO_COLOR;

// Node flags per app, as its deployments set them (k8s/, docker/compose.yaml) and the benchmark
// measures them: the intent classifier caps V8's young generation (8 MB semi-spaces instead of 16),
// which keeps it under 200 MB RSS after load (tools/bench, README "Performance").
// `name` tells processes apart (intent-classifier-2 is a second replica), `app` is what runs.
const intent = { app: 'intent-classifier', color: 36, nodeOptions: '--max-semi-space-size=8' };
const APPS = [
  { ...intent, name: 'intent-classifier', port: base + 1 },
  { app: 'anomaly-detector', name: 'anomaly-detector', color: 35, port: base + 2 },
  ...Array.from({ length: replicas - 1 }, (_, i) => ({ ...intent, name: `intent-classifier-${i + 2}`, port: base + 3 + i })),
  { app: 'gateway', name: 'gateway', color: 32, port: base },
];
const urlsOf = (app) => APPS.filter((a) => a.app === app).map((a) => `http://127.0.0.1:${a.port}`).join(',');
// The gateway finds the model apps on the ports chosen here (every intent replica) unless told otherwise.
const APP_ENV = {
  gateway: {
    INTENT_CLASSIFIER_URL: process.env.INTENT_CLASSIFIER_URL || urlsOf('intent-classifier'),
    ANOMALY_DETECTOR_URL: process.env.ANOMALY_DETECTOR_URL || urlsOf('anomaly-detector'),
  },
};
/** Restart delays after a crash: doubling from 1 s to 30 s; back to 1 s once an app has run 30 s. */
const BACKOFF_MS = { first: 1000, max: 30_000, stableAfter: 30_000 };
/** The config loader's exit status for a bad variable: restarting cannot help. */
const EX_CONFIG = 78;

const root = process.cwd();
const startPrefix = paint(color, '1;97', 'npm start'.padEnd(17)) + ' |';

/** start.mjs's own lines: rendered like the apps' on a terminal, JSON records otherwise. */
function say(level, msg, fields = {}, loud = false) {
  const record = { level, time: Date.now(), service: 'start', msg, ...fields };
  if (!pretty) {
    process.stdout.write(`${JSON.stringify(record)}\n`);
    return;
  }
  // On a terminal the message says it all; the fields are for machines.
  const line = formatRecord({ level, time: record.time, msg }, startPrefix, color);
  if (!loud) {
    process.stdout.write(`${line}\n`);
    return;
  }
  const bar = paint(color, '1;31', '!'.repeat(100));
  process.stdout.write(`${bar}\n${paint(color, '1;31', line)}\n${bar}\n`);
}

if (!args['no-build']) {
  const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '-p', [...new Set(APPS.map((a) => a.app))].join(','), '--output-style=static'], {
    stdio: 'inherit',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
for (const { app } of APPS) {
  const main = join(root, 'dist', 'apps', app, 'main.js');
  if (!existsSync(main)) {
    console.error(`${main} is missing; run without --no-build`);
    process.exit(1);
  }
}

let stopping = false;
/** name -> { child, startedAt, crashes, timer } */
const running = new Map();
/** Apps that exited with EX_CONFIG: not restarted. */
const refused = new Set();

/** A JSON record as it came, with `service` added when the app wrote none (boot-failure lines). */
function withService(line, name) {
  if (line.includes('"service":')) return line;
  try {
    return JSON.stringify({ service: name, ...JSON.parse(line) });
  } catch {
    return JSON.stringify({ level: 30, time: Date.now(), service: name, msg: line });
  }
}

function launch(app) {
  const { name, port, nodeOptions } = app;
  const env = { ...process.env, PORT: String(port), ...(APP_ENV[app.app] ?? {}) };
  if (nodeOptions) env.NODE_OPTIONS = [process.env.NODE_OPTIONS, nodeOptions].filter(Boolean).join(' ');
  const child = spawn(process.execPath, [join(root, 'dist', 'apps', app.app, 'main.js')], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const state = running.get(name) ?? { crashes: 0 };
  Object.assign(state, { child, startedAt: Date.now(), timer: undefined });
  running.set(name, state);
  const prefix = paint(color, app.color, name.padEnd(17)) + ' |';
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (pretty) process.stdout.write(`${formatLine(line, prefix, color)}\n`);
        else if (line.startsWith('{')) process.stdout.write(`${withService(line, name)}\n`);
        // Piped output stays one JSON record per line: wrap what an app wrote as plain text.
        else if (line !== '') process.stdout.write(`${JSON.stringify({ level: stream === child.stderr ? 50 : 30, time: Date.now(), service: name, msg: line })}\n`);
      }
    });
  }
  child.on('exit', (code, signal) => onExit(app, state, code, signal));
  say(30, `started ${name} (pid ${child.pid}) on port ${port}`, { app: name, pid: child.pid, port });
}

function onExit(app, state, code, signal) {
  const how = signal ? `killed by ${signal}` : `exit code ${code}`;
  if (stopping) {
    say(30, `${app.name} stopped (${how})`, { app: app.name, code, signal });
    return;
  }
  const others = APPS.filter((a) => a.name !== app.name).map((a) => a.name).join(' and ');
  if (code === EX_CONFIG) {
    refused.add(app.name);
    if (refused.size === APPS.length) {
      say(60, `every app refused its configuration: fix the variables named above and run npm start again`, { code }, true);
      process.exit(EX_CONFIG);
    }
    say(60, `${app.name} refused its configuration (${how}), so it is not restarted: fix the variable it names above and run npm start again; ${others} keep serving`, { app: app.name, code, signal }, true);
    return;
  }
  if (Date.now() - state.startedAt >= BACKOFF_MS.stableAfter) state.crashes = 0;
  const delay = Math.min(BACKOFF_MS.first * 2 ** state.crashes, BACKOFF_MS.max);
  state.crashes += 1;
  say(
    50,
    `${app.name} CRASHED (${how}); ${others} keep serving; restarting ${app.name} in ${delay / 1000} s (crash ${state.crashes} in a row)`,
    { app: app.name, code, signal, restartInMs: delay, crashes: state.crashes },
    true,
  );
  state.timer = setTimeout(() => {
    if (!stopping) launch(app);
  }, delay);
}

function stopAll(exitCode = 0) {
  if (stopping) return;
  stopping = true;
  const live = [];
  for (const { child, timer } of running.values()) {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) {
      live.push(new Promise((r) => child.once('exit', r)));
      child.kill('SIGTERM');
    }
  }
  Promise.all(live).then(() => process.exit(exitCode));
  setTimeout(() => process.exit(exitCode || 1), 15_000).unref();
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
// `npm start` runs this script through a shell. Sent SIGTERM (by a process manager, a CI step's
// timeout, `kill <npm's pid>`), npm passes it to that shell, which dies without passing it on: this
// script would be re-parented and keep the apps running, holding their ports. It stops with its
// parent instead, as on a signal; and when whoever reads its output has gone (EPIPE).
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) stopAll(0);
}, 250).unref();
process.stdout.on('error', () => stopAll(0));

for (const app of APPS) launch(app);
