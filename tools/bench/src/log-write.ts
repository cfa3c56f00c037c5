/**
 * CPU per access-log line of the buffered stdout destination (`bufferedDestination` of
 * libs/logging: lines encoded into one 16 KB buffer, written at once when full) against the
 * designs before it: the same buffer handed whole to sonic-boom, which writes it from the thread
 * pool (`threadPoolDestination`, shipped until 2026-12-06 and still used on a socket), and sonic-boom
 * given every line, in its `buffer` mode as a Buffer per line (written every 4 KB; shipped until
 * 2026-12-05) and in its default `utf8` mode. All write to a temporary file, rounds interleaved. Reported per line: the process's CPU (the thread pool's writes
 * included) and the event loop's own time. A diagnosis of one layer, not an as-deployed result (see
 * docs/ARCHITECTURE.md, Logging):
 *
 *   TS_NODE_PROJECT=tools/bench/tsconfig.json TS_NODE_BASEURL=../.. node -r ts-node/register/transpile-only \
 *     -r tsconfig-paths/register tools/bench/src/log-write.ts [--lines 200000] [--rounds 4]
 */
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { bufferedDestination, drainLogs, LOG_FLUSH_INTERVAL_MS, LOG_MAX_BUFFER_BYTES, type LogDestination, threadPoolDestination } from '@ml/logging';
import { median } from './lib/report';

const { values } = parseArgs({ options: { lines: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '4' } } });
const lines = Number(values.lines);
const rounds = Number(values.rounds);

// An access-log line as the gateway writes it (about 300 bytes).
const line =
  `{"level":30,"time":${Date.now()},"service":"gateway","request_id":"6773f69f-e289-4321-8724-900bd579f77e",` +
  `"req":{"method":"POST","url":"/v1/intent","remoteAddress":"127.0.0.1","headers":{"user-agent":"wrk","x-api-key":"[redacted]"}},` +
  `"res":{"statusCode":200},"responseTime":3.241,"msg":"request completed"}\n`;

type Destination = { write(line: string): unknown };
interface PerLine {
  cpu: number;
  loop: number;
}

/**
 * Writes `lines` lines, yielding to the event loop every 32 (as requests would). CPU: the process's
 * (all threads); loop: wall time spent writing, the yields left out (the machine otherwise idle).
 */
async function perLine(destination: Destination): Promise<PerLine> {
  const cpu = process.cpuUsage();
  let loop = 0n;
  let from = process.hrtime.bigint();
  for (let i = 0; i < lines; i++) {
    destination.write(line);
    if (i % 32 === 31) {
      loop += process.hrtime.bigint() - from;
      await new Promise((r) => setImmediate(r));
      from = process.hrtime.bigint();
    }
  }
  loop += process.hrtime.bigint() - from;
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / lines, loop: Number(loop) / 1000 / lines };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'log-write-'));
  try {
    const file = (name: string) => openSync(join(dir, `${name}.log`), 'w');
    const shipped = bufferedDestination(file('shipped'));
    const threadPool = threadPoolDestination(file('thread-pool'));
    const options = { sync: false, minLength: 4096, maxLength: LOG_MAX_BUFFER_BYTES, periodicFlush: LOG_FLUSH_INTERVAL_MS };
    const perLineBuffers = pino.destination({ ...options, dest: file('buffers'), contentMode: 'buffer' });
    const writeBytes = perLineBuffers.write.bind(perLineBuffers) as unknown as (chunk: Buffer) => boolean;
    const utf8 = pino.destination({ ...options, dest: file('utf8') });
    // name, what the lines are written to, and the stream behind it (drained and destroyed).
    // sonic-boom has the flushes and destroy drainLogs and the end need.
    const sonicBoom = (stream: typeof utf8) => stream as unknown as LogDestination;
    const candidates: [string, Destination, LogDestination][] = [
      ['16 KB buffer (shipped)', shipped, shipped],
      ['16 KB buffer, thread pool', threadPool, threadPool],
      ['a Buffer per line, 4 KB', { write: (s: string) => writeBytes(Buffer.from(s)) }, sonicBoom(perLineBuffers)],
      ['sonic-boom utf8, 4 KB', utf8, sonicBoom(utf8)],
    ];
    const results = new Map<string, PerLine[]>(candidates.map(([name]) => [name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, destination, stream] of r % 2 === 0 ? candidates : [...candidates].reverse()) {
        results.get(name)?.push(await perLine(destination));
        await drainLogs(5000, stream);
      }
    }
    for (const [name, runs] of results) {
      const cpu = runs.map((x) => x.cpu);
      const loop = runs.map((x) => x.loop);
      process.stdout.write(
        `${name.padEnd(26)} CPU ${median(cpu)?.toFixed(2)} µs a line, event loop ${median(loop)?.toFixed(2)} µs ` +
          `(rounds: ${cpu.map((u) => u.toFixed(2)).join(', ')} / ${loop.map((u) => u.toFixed(2)).join(', ')})\n`,
      );
    }
    for (const [, , stream] of candidates) stream.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
