import fs, { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { bufferedDestination, drainLogs, flushLogs, LOG_BUFFER_BYTES, LOG_FLUSH_INTERVAL_MS, type LogDestination } from './log.destination';

describe('the buffered log destination', () => {
  let dir: string;
  let file: string;
  let fd: number;
  let dest: LogDestination;
  const written = () => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'log-dest-'));
    file = join(dir, 'out.log');
    fd = openSync(file, 'w');
    dest = bufferedDestination(fd);
  });
  afterEach(() => {
    // Closes fd too.
    dest.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds lines until a flush, then writes them all, in order', async () => {
    const log = pino({ base: null }, dest);
    for (let i = 0; i < 10; i++) log.info(`line ${i}`);
    expect(written()).toBe(0);
    flushLogs(dest);
    expect(written()).toBe(10);
    for (let i = 10; i < 20; i++) log.info(`line ${i}`);
    await drainLogs(2000, dest);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).msg);
    expect(lines).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i}`));
  });

  it('writes by itself once it holds a buffer-full, or when its interval passes', async () => {
    const log = pino({ base: null }, dest);
    const long = 'x'.repeat(200);
    // The line as pino writes it with no base fields: how many fit in one buffer.
    const fit = Math.floor(LOG_BUFFER_BYTES / Buffer.byteLength(`${JSON.stringify({ level: 30, time: Date.now(), msg: long })}\n`));
    const perBuffer = fit + 3;
    for (let i = 0; i < perBuffer; i++) log.info(long);
    await new Promise((r) => setTimeout(r, 50));
    // The full buffer went out with no flush; the lines after it wait for the next buffer-full or
    // the interval (which may or may not have passed by now).
    expect(written()).toBeGreaterThanOrEqual(fit);
    log.info('one more');
    await new Promise((r) => setTimeout(r, LOG_FLUSH_INTERVAL_MS * 2 + 50));
    expect(written()).toBe(perBuffer + 1);
  });

  it('writes lines with multi-byte characters whole, through a buffer-full and a flush', async () => {
    const log = pino({ base: null }, dest);
    // 3- and 4-byte characters: counted in bytes, a buffer boundary never splits one.
    const texts = Array.from({ length: 60 }, (_, i) => `carte bloquée № ${i} — 💳 ${'€'.repeat(i % 7)}`);
    for (const t of texts) log.info(t);
    await drainLogs(2000, dest);
    // A Buffer goes in as it is (sonic-boom's types know only strings).
    (dest as unknown as { write(chunk: Buffer): boolean }).write(Buffer.from('{"msg":"bytes as they are"}\n'));
    flushLogs(dest);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).msg);
    expect(lines).toEqual([...texts, 'bytes as they are']);
  });

  it('writes a line longer than its buffer whole, in order with the lines around it', async () => {
    const log = pino({ base: null }, dest);
    const huge = 'y'.repeat(LOG_BUFFER_BYTES * 2);
    log.info('before');
    log.info(huge);
    log.info('after');
    await drainLogs(2000, dest);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).msg);
    expect(lines).toEqual(['before', huge, 'after']);
  });

  it('writes what a flush found synchronously, even while a full buffer is being written', async () => {
    const log = pino({ base: null }, dest);
    const long = 'z'.repeat(200);
    // More than a buffer-full: the first buffer goes out asynchronously, the rest waits.
    const count = Math.ceil(LOG_BUFFER_BYTES / 200) + 20;
    const numbers = () => readFileSync(file, 'utf8').trim().split('\n').map((l) => Number((JSON.parse(l) as { msg: string }).msg.split(' ')[0]));
    for (let i = 0; i < count; i++) log.info(`${i} ${long}`);
    flushLogs(dest);
    // No await: the lines after the buffer-full are on disk now (as before a fatal exit); the
    // buffer-full itself is the thread pool's write, already under way.
    expect(numbers()).toContain(count - 1);
    await drainLogs(2000, dest);
    expect(new Set(numbers()).size).toBe(count);
  });

  it('makes no write at all while nothing is logged, and one per interval when something is', async () => {
    const log = pino({ base: null }, dest);
    // sonic-boom writes through the fs module's asynchronous write.
    const writes = jest.spyOn(fs, 'write');
    try {
      await new Promise((r) => setTimeout(r, LOG_FLUSH_INTERVAL_MS * 4));
      expect(writes).not.toHaveBeenCalled();
      log.info('a line');
      await new Promise((r) => setTimeout(r, LOG_FLUSH_INTERVAL_MS * 4));
      expect(writes).toHaveBeenCalledTimes(1);
      expect(written()).toBe(1);
    } finally {
      writes.mockRestore();
    }
  });

  it('resolves a drain with nothing to write', async () => {
    await drainLogs(2000, dest);
    await drainLogs(2000, undefined);
    expect(written()).toBe(0);
  });
});
