/**
 * CPU per access-log line of the buffered stdout destination (`bufferedDestination` of
 * libs/logging, sonic-boom in `buffer` mode) against sonic-boom in its default `utf8` mode with the
 * same buffering, both writing to a temporary file, rounds interleaved. A diagnosis of one layer,
 * not an as-deployed result (see docs/ARCHITECTURE.md, Logging):
 *
 *   TS_NODE_PROJECT=tools/bench/tsconfig.json TS_NODE_BASEURL=../.. node -r ts-node/register/transpile-only \
 *     -r tsconfig-paths/register tools/bench/src/log-write.ts [--lines 200000] [--rounds 4]
 */
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { bufferedDestination, drainLogs, LOG_BUFFER_BYTES, LOG_FLUSH_INTERVAL_MS, LOG_MAX_BUFFER_BYTES } from '@ml/logging';

const { values } = parseArgs({ options: { lines: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '4' } } });
const lines = Number(values.lines);
const rounds = Number(values.rounds);

// An access-log line as the apps write it (about 280 bytes).
const line =
  `{"level":30,"time":${Date.now()},"service":"intent-classifier","request_id":"6773f69f-e289-4321-8724-900bd579f77e",` +
  `"req":{"method":"POST","url":"/predict/intent","remoteAddress":"127.0.0.1","headers":{}},"res":{"statusCode":200},"responseTime":3.241,"msg":"request completed"}\n`;

type Destination = { write(line: string): unknown };

/** Writes `lines` lines, yielding to the event loop every 32 (as requests would), and returns µs of CPU per line. */
async function cpuPerLine(destination: Destination): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < lines; i++) {
    destination.write(line);
    if (i % 32 === 31) await new Promise((r) => setImmediate(r));
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / lines;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'log-write-'));
  try {
    const buffered = bufferedDestination(openSync(join(dir, 'buffer.log'), 'w'));
    const utf8 = pino.destination({
      dest: openSync(join(dir, 'utf8.log'), 'w'),
      sync: false,
      minLength: LOG_BUFFER_BYTES,
      maxLength: LOG_MAX_BUFFER_BYTES,
      periodicFlush: LOG_FLUSH_INTERVAL_MS,
    });
    const results: Record<string, number[]> = { 'buffer mode (shipped)': [], 'utf8 mode': [] };
    for (let r = 0; r < rounds; r++) {
      for (const [name, dest] of r % 2 === 0 ? ([['buffer mode (shipped)', buffered], ['utf8 mode', utf8]] as const) : ([['utf8 mode', utf8], ['buffer mode (shipped)', buffered]] as const)) {
        results[name].push(await cpuPerLine(dest));
        await drainLogs(5000, dest);
      }
    }
    for (const [name, us] of Object.entries(results)) {
      const sorted = [...us].sort((a, b) => a - b);
      process.stdout.write(`${name.padEnd(22)} median ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} us CPU per line (rounds: ${us.map((u) => u.toFixed(2)).join(', ')})\n`);
    }
    buffered.destroy();
    utf8.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
