#!/usr/bin/env node
// `npm start`: builds the three apps, then runs them side by side on embedded defaults
// (no Redis, shipped models, the development API key) with prefixed logs. Ctrl-C stops all three.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

// Node flags per app, as its deployments set them (k8s/, docker/compose.yaml) and the benchmark
// measures them: the intent classifier caps V8's young generation (8 MB semi-spaces instead of 16),
// which keeps it under 200 MB RSS after load (tools/bench, README "Performance").
const APPS = [
  { name: 'intent-classifier', color: 36, nodeOptions: '--max-semi-space-size=8' },
  { name: 'anomaly-detector', color: 35 },
  { name: 'gateway', color: 32 },
];
const root = process.cwd();

if (!process.argv.includes('--no-build')) {
  const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '-p', APPS.map((a) => a.name).join(','), '--output-style=static'], {
    stdio: 'inherit',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const children = APPS.map(({ name, color, nodeOptions }) => {
  const main = join(root, 'dist', 'apps', name, 'main.js');
  if (!existsSync(main)) {
    console.error(`${main} is missing; run without --no-build`);
    process.exit(1);
  }
  const env = { ...process.env };
  if (nodeOptions) env.NODE_OPTIONS = [process.env.NODE_OPTIONS, nodeOptions].filter(Boolean).join(' ');
  const child = spawn(process.execPath, [main], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const prefix = `\x1b[${color}m${name.padEnd(17)}\x1b[0m|`;
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        process.stdout.write(`${prefix} ${buf.slice(0, i)}\n`);
        buf = buf.slice(i + 1);
      }
    });
  }
  child.on('exit', (code, signal) => {
    process.stdout.write(`${prefix} exited (${signal ?? code})\n`);
    if (!stopping) stopAll(code ?? 1);
  });
  return child;
});

let stopping = false;
function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const waitAll = Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))));
  waitAll.then(() => process.exit(code));
  setTimeout(() => process.exit(code || 1), 15_000).unref();
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
