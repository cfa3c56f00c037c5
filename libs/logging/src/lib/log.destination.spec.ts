import { execFileSync } from 'node:child_process';
import fs, { closeSync, constants, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import {
  bufferedDestination,
  directWriteFd,
  drainLogs,
  flushLogs,
  LOG_BUFFER_BYTES,
  LOG_FLUSH_INTERVAL_MS,
  LOG_MAX_BUFFER_BYTES,
  type LogDestination,
  threadPoolDestination,
} from './log.destination';

// On a file, bufferedDestination writes at once; threadPoolDestination is what it uses on a socket.
describe.each([
  ['written at once (a file)', bufferedDestination],
  ['written from the thread pool (a socket)', threadPoolDestination],
])('the buffered log destination, %s', (_name, create) => {
  let dir: string;
  let file: string;
  let fd: number;
  let dest: LogDestination;
  const written = () => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'log-dest-'));
    file = join(dir, 'out.log');
    fd = openSync(file, 'w');
    dest = create(fd);
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
    // More than a buffer-full: the first buffer goes out (at once, or from the thread pool), the rest waits.
    const count = Math.ceil(LOG_BUFFER_BYTES / 200) + 20;
    const numbers = () => readFileSync(file, 'utf8').trim().split('\n').map((l) => Number((JSON.parse(l) as { msg: string }).msg.split(' ')[0]));
    for (let i = 0; i < count; i++) log.info(`${i} ${long}`);
    flushLogs(dest);
    // No await: the lines after the buffer-full are on disk now (as before a fatal exit); through
    // the thread pool, the buffer-full itself is its write, already under way.
    expect(numbers()).toContain(count - 1);
    await drainLogs(2000, dest);
    expect(new Set(numbers()).size).toBe(count);
  });

  it('makes no write at all while nothing is logged, and one per interval when something is', async () => {
    const log = pino({ base: null }, dest);
    // sonic-boom writes through the fs module's asynchronous write; the destination itself writes a
    // file at once.
    const writes = [jest.spyOn(fs, 'write'), jest.spyOn(fs, 'writeSync')];
    const count = () => writes.reduce((n, spy) => n + spy.mock.calls.length, 0);
    try {
      await new Promise((r) => setTimeout(r, LOG_FLUSH_INTERVAL_MS * 4));
      expect(count()).toBe(0);
      log.info('a line');
      await new Promise((r) => setTimeout(r, LOG_FLUSH_INTERVAL_MS * 4));
      expect(count()).toBe(1);
      expect(written()).toBe(1);
    } finally {
      writes.forEach((spy) => spy.mockRestore());
    }
  });

  it('resolves a drain with nothing to write', async () => {
    await drainLogs(2000, dest);
    await drainLogs(2000, undefined);
    expect(written()).toBe(0);
  });
});

/** Whether a descriptor of this process is non-blocking (O_NONBLOCK in its flags, octal in /proc). */
const nonBlocking = (fd: number) => {
  const flags = /flags:\s*(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
  if (flags === undefined) throw new Error(`no flags for fd ${fd} in /proc`);
  return (parseInt(flags, 8) & constants.O_NONBLOCK) !== 0;
};

describe('the buffered log destination on a file', () => {
  it('writes a full buffer to a file at once, on the event loop, and never through the thread pool', () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-file-'));
    const file = join(dir, 'out.log');
    const dest = bufferedDestination(openSync(file, 'w'));
    const written = () => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
    const log = pino({ base: null }, dest);
    const writes = jest.spyOn(fs, 'write');
    try {
      const long = 'w'.repeat(200);
      const count = Math.ceil(LOG_BUFFER_BYTES / 200) * 3;
      for (let i = 0; i < count; i++) log.info(`${i} ${long}`);
      // No await, no flush: the full buffers are in the file already.
      expect(written()).toBeGreaterThan(count / 2);
      flushLogs(dest);
      const numbers = readFileSync(file, 'utf8').trim().split('\n').map((l) => Number((JSON.parse(l) as { msg: string }).msg.split(' ')[0]));
      expect(numbers).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(writes).not.toHaveBeenCalled();
    } finally {
      writes.mockRestore();
      dest.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

});

describe('the buffered log destination on a pipe', () => {
  let dir: string;
  let fifo: string;
  let reader: number;
  let writer: number;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'log-pipe-'));
    fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    // The reader first (non-blocking, so opening waits for no writer), then a blocking writer: a
    // pipe like the one a container runtime gives a process as its stdout.
    reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    writer = openSync(fifo, constants.O_WRONLY);
  });
  afterEach(() => {
    closeSync(reader);
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Reads the pipe until `lines` lines came, or `done()` holds and the pipe is empty, or 10 s
   * passed, yielding to the event loop.
   */
  async function readLines(lines: number, done = () => false): Promise<string[]> {
    const chunk = Buffer.alloc(64 * 1024);
    let text = '';
    const deadline = Date.now() + 10_000;
    while (text.split('\n').length <= lines && Date.now() < deadline) {
      try {
        const n = readSync(reader, chunk, 0, chunk.length, null);
        text += chunk.toString('utf8', 0, n);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        if (done()) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    return text.split('\n').filter(Boolean);
  }

  it('never blocks the event loop while nobody reads, and delivers every line, in order, once read', async () => {
    const dest = bufferedDestination(writer);
    try {
      const log = pino({ base: null }, dest);
      const long = 'p'.repeat(200);
      // ~5 pipes' worth: a blocking write on the event loop would hang here, as nothing reads yet.
      const count = Math.ceil((5 * 64 * 1024) / 200);
      for (let i = 0; i < count; i++) log.info(`${i} ${long}`);
      // What the pipe did not take waits in sonic-boom, written from the thread pool as the pipe empties.
      const read = readLines(count);
      await drainLogs(10_000, dest);
      const numbers = (await read).map((l) => Number((JSON.parse(l) as { msg: string }).msg.split(' ')[0]));
      expect(numbers).toEqual(Array.from({ length: count }, (_, i) => i));
      // The descriptor the destination was given stays blocking: the thread pool's writes wait for the reader.
      expect(nonBlocking(writer)).toBe(false);
    } finally {
      dest.destroy();
    }
  }, 20_000);

  it('writes to a pipe with room at once, without the thread pool', async () => {
    const dest = bufferedDestination(writer);
    const writes = jest.spyOn(fs, 'write');
    try {
      const log = pino({ base: null }, dest);
      for (let i = 0; i < 20; i++) log.info(`line ${i}`);
      flushLogs(dest);
      expect((await readLines(20)).map((l) => JSON.parse(l).msg)).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i}`));
      expect(writes).not.toHaveBeenCalled();
    } finally {
      writes.mockRestore();
      dest.destroy();
    }
  });

  it('keeps at most LOG_MAX_BUFFER_BYTES while nobody reads, dropping whole buffers, never part of a line', async () => {
    const dest = bufferedDestination(writer);
    try {
      const log = pino({ base: null }, dest);
      const long = 'd'.repeat(200);
      // ~1.3 times what it keeps, and a pipe's worth.
      const count = Math.ceil((1.3 * LOG_MAX_BUFFER_BYTES) / 240);
      for (let i = 0; i < count; i++) log.info(`${i} ${long}`);
      let drained = false;
      const read = readLines(count, () => drained);
      await drainLogs(10_000, dest);
      drained = true;
      const lines = await read;
      const numbers = lines.map((l) => Number((JSON.parse(l) as { msg: string }).msg.split(' ')[0]));
      // Every line read is whole and in order; the first ones are all there; some were dropped.
      expect(numbers.every((n, i) => i === 0 || n > numbers[i - 1])).toBe(true);
      expect(numbers.slice(0, 1000)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      expect(lines.length).toBeLessThan(count);
      expect(lines.join('\n').length).toBeLessThanOrEqual(LOG_MAX_BUFFER_BYTES + 2 * 64 * 1024);
    } finally {
      dest.destroy();
    }
  }, 30_000);

  it('when the reader is gone (EPIPE): drops the lines without throwing, says so once on stderr, and flushes report it', async () => {
    const dest = bufferedDestination(writer);
    const original = fs.writeSync;
    const stderr: string[] = [];
    const writes = jest.spyOn(fs, 'writeSync').mockImplementation(((fd: number, ...rest: unknown[]) => {
      if (fd !== 2) return (original as (...args: unknown[]) => number)(fd, ...rest);
      stderr.push(String(rest[0]));
      return 0;
    }) as typeof fs.writeSync);
    try {
      closeSync(reader);
      reader = openSync('/dev/null', 'r');
      const log = pino({ base: null }, dest);
      for (let i = 0; i < 200; i++) log.info(`line ${i} ${'e'.repeat(200)}`);
      const error = await new Promise<Error | undefined>((resolve) => dest.flush(resolve));
      expect(error).toMatchObject({ code: 'EPIPE' });
      expect(() => flushLogs(dest)).not.toThrow();
      log.info('one more');
      dest.flushSync();
      expect(stderr).toEqual(['log output failed (EPIPE): its lines are dropped from now on\n']);
    } finally {
      writes.mockRestore();
      dest.destroy();
    }
  });
});

describe('directWriteFd', () => {
  it('is the descriptor itself for a file, a second, non-blocking one for a pipe or a terminal, none for a socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-fd-'));
    const file = openSync(join(dir, 'f'), 'w');
    const devNull = openSync('/dev/null', 'w');
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      expect(directWriteFd(file)).toBe(file);
      const again = directWriteFd(devNull) as number;
      expect(again).not.toBe(devNull);
      expect(fstatSync(again).rdev).toBe(fstatSync(devNull).rdev);
      // O_NONBLOCK on the new one only.
      expect([nonBlocking(again), nonBlocking(devNull)]).toEqual([true, false]);
      closeSync(again);
      expect(directWriteFd((server as unknown as { _handle: { fd: number } })._handle.fd)).toBeUndefined();
      expect(directWriteFd(987_654)).toBeUndefined();
    } finally {
      server.close();
      closeSync(file);
      closeSync(devNull);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
