import { closeSync, constants, fstatSync, openSync, writeSync, writevSync } from 'node:fs';
import pino from 'pino';

/**
 * Bytes the stdout log collects before it writes: one write(2) per 16 KB (about 55 access-log
 * lines). Writing each line as it came cost the intent classifier ~20% of its throughput at
 * LOG_LEVEL=info.
 */
export const LOG_BUFFER_BYTES = 16 * 1024;
/** Longest a line waits in the buffer when traffic is light (a timer; cheap next to a write per line). */
export const LOG_FLUSH_INTERVAL_MS = 50;
/**
 * Past this much unwritten log (stdout's reader stalled), new lines are dropped rather than held:
 * a stalled log collector must neither block serving nor exhaust memory.
 */
export const LOG_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

/** What the buffered log offers beyond pino's `write`: flushes and closing. */
export interface LogDestination extends pino.DestinationStream {
  write(chunk: string | Buffer): boolean;
  /** Writes what is buffered; `cb`, if given, once all of it is written (or could not be). */
  flush(cb?: (err?: Error) => void): void;
  /** Writes everything, synchronously, for a process about to exit (see each implementation). */
  flushSync(): void;
  /** Stops its timers and closes its descriptors, `fd` included. */
  destroy(): void;
}

/** How long a synchronous flush (a fatal error, exit) waits for a lagging pipe reader to make room. */
export const LOG_EXIT_WAIT_MS = 5000;
/** How often unwritten bytes are retried while a pipe's reader lags. */
const RETRY_MS = 5;

/**
 * A descriptor the log can write to at once, on the event loop, without ever waiting for a reader:
 * - a regular file: `fd` itself (a write lands in the page cache; Node writes `process.stdout`
 *   synchronously to a file too);
 * - a pipe or FIFO (a container's stdout) or a terminal: a second, non-blocking open of the same
 *   pipe or device through /proc, so a full pipe answers EAGAIN instead of stalling requests (`fd`
 *   itself stays as the parent gave it: changing its flags would change them for every process
 *   sharing it);
 * - anything else (a socket), or no /proc: undefined.
 */
export function directWriteFd(fd: number): number | undefined {
  try {
    const stat = fstatSync(fd);
    if (stat.isFile()) return fd;
    if (!stat.isFIFO() && !stat.isCharacterDevice()) return undefined;
    return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
}

/**
 * A buffered destination on a file descriptor (see {@link stdoutDestination}): lines are encoded
 * straight into one {@link LOG_BUFFER_BYTES} buffer, which is written when full, every
 * {@link LOG_FLUSH_INTERVAL_MS} and on a flush.
 *
 * On a file, a pipe or a terminal ({@link directWriteFd}) the buffer is written at once, on the
 * event loop, as far as the descriptor takes it without waiting; what a lagging pipe reader leaves
 * is kept, in order, and retried every few ms (new lines queue behind it; past
 * {@link LOG_MAX_BUFFER_BYTES} new buffers are dropped rather than held). No write is ever under way
 * anywhere else, so a synchronous flush at a fatal error writes every line, in order. Handing each
 * buffer to the thread pool instead (sonic-boom, asynchronous) cost ~170 µs of the gateway's event
 * loop per hand-over on one core, where the pool's thread wakes and preempts the loop: 2.7% of its
 * busy time on cache hits at `info`, against ~0.7% written at once (CPU profiles, 2026-12-06;
 * docs/ARCHITECTURE.md, Logging); and the write it had under way at a fatal error was lost when
 * the pipe's reader lagged.
 *
 * On any other descriptor (a socket, e.g. systemd's journal) the full buffer goes to sonic-boom
 * instead, which writes it from the thread pool (see {@link threadPoolDestination}).
 */
export function bufferedDestination(fd: number): LogDestination {
  const out = directWriteFd(fd);
  return out === undefined ? threadPoolDestination(fd) : new DirectDestination(fd, out);
}

/**
 * Collects lines into one buffer; `handOver` gets it when it is full or flushed, and returns
 * whether it kept the bytes (then the next lines go to a new buffer).
 */
class LineBuffer {
  private buffer = Buffer.allocUnsafeSlow(LOG_BUFFER_BYTES);
  private used = 0;

  constructor(private readonly handOver: (bytes: Buffer) => boolean) {}

  write(chunk: string | Buffer): void {
    const text = typeof chunk === 'string';
    // A string takes at most 3 bytes per UTF-16 unit: its byte length is counted only when it might not fit.
    if (this.used + (text ? chunk.length * 3 : chunk.length) > LOG_BUFFER_BYTES) {
      const bytes = text ? Buffer.byteLength(chunk) : chunk.length;
      if (this.used + bytes > LOG_BUFFER_BYTES) {
        this.flush();
        // A line longer than the buffer goes out alone (a copy: the caller may reuse its Buffer).
        if (bytes > LOG_BUFFER_BYTES) return void this.handOver(Buffer.from(chunk));
      }
    }
    this.used += text ? this.buffer.write(chunk, this.used) : chunk.copy(this.buffer, this.used);
  }

  flush(): void {
    if (this.used === 0) return;
    if (this.handOver(this.buffer.subarray(0, this.used))) this.buffer = Buffer.allocUnsafeSlow(LOG_BUFFER_BYTES);
    this.used = 0;
  }
}

/** Sleeps the calling thread (a synchronous flush waiting for a pipe's reader). */
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** The destination on a file, a pipe or a terminal: see {@link bufferedDestination}. */
class DirectDestination implements LogDestination {
  private readonly lines = new LineBuffer((bytes) => this.send(bytes));
  /** What the descriptor has not taken yet (a pipe whose reader lags), oldest first. */
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Flush callbacks waiting for `pending` to empty. */
  private readonly waiting: ((err?: Error) => void)[] = [];
  private readonly interval: NodeJS.Timeout;
  private retry: NodeJS.Timeout | undefined;
  /** The first error other than a full pipe (EPIPE: the reader is gone): nothing is written after it. */
  private failed: Error | undefined;
  private destroyed = false;

  /** `fd`: the descriptor it was given; `out`: the one it writes to (see directWriteFd). */
  constructor(
    private readonly fd: number,
    private readonly out: number,
  ) {
    this.interval = setInterval(() => this.flush(), LOG_FLUSH_INTERVAL_MS).unref();
  }

  write(chunk: string | Buffer): boolean {
    this.lines.write(chunk);
    return true;
  }

  flush(cb?: (err?: Error) => void): void {
    this.lines.flush();
    if (cb == null) return;
    if (this.pending.length === 0 || this.failed) process.nextTick(cb, this.failed);
    else this.waiting.push(cb);
  }

  /**
   * Writes the buffer and everything pending, in order, waiting for a lagging pipe's reader up to
   * {@link LOG_EXIT_WAIT_MS} (what it has not taken by then is dropped).
   */
  flushSync(): void {
    this.lines.flush();
    const deadline = Date.now() + LOG_EXIT_WAIT_MS;
    while (this.pending.length > 0 && !this.failed && Date.now() < deadline) {
      if (!this.writePending()) sleepSync(1);
    }
    if (this.pending.length > 0) {
      // The reader did not move for LOG_EXIT_WAIT_MS: the process must still be able to exit.
      this.report(`${this.pendingBytes} bytes of log were not written: stdout's reader took nothing for ${LOG_EXIT_WAIT_MS} ms`);
      this.pending.length = 0;
      this.pendingBytes = 0;
    }
    this.settle();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    clearInterval(this.interval);
    clearTimeout(this.retry);
    this.pending.length = 0;
    this.pendingBytes = 0;
    if (this.out !== this.fd) closeSync(this.out);
    closeSync(this.fd);
    this.settle();
  }

  /** Writes `bytes` after what is pending, as far as the descriptor takes them; keeps the rest. */
  private send(bytes: Buffer): boolean {
    if (this.failed || this.destroyed) return false;
    if (this.pending.length > 0) this.writePending();
    let written = 0;
    if (this.pending.length === 0) {
      written = this.writeSome(() => writeSync(this.out, bytes));
      if (written === bytes.length || this.failed) return false;
    }
    // A buffer the pipe took nothing of may be dropped whole (its lines are whole); the rest of a
    // partly written one must follow, or a line would be cut.
    if (written === 0 && this.pendingBytes + bytes.length > LOG_MAX_BUFFER_BYTES) return false;
    this.pending.push(bytes.subarray(written));
    this.pendingBytes += bytes.length - written;
    this.retry ??= setTimeout(() => this.onRetry(), RETRY_MS).unref();
    return true;
  }

  /** One write (writev) of what is pending, up to 64 buffers (a pipe takes 64 KB): whether it took anything. */
  private writePending(): boolean {
    // writev takes at most IOV_MAX (1,024) buffers; 16 MB pending is as many.
    const batch = this.pending.length > 64 ? this.pending.slice(0, 64) : this.pending;
    let written = this.writeSome(() => writevSync(this.out, batch));
    if (written === 0) return false;
    this.pendingBytes -= written;
    while (written > 0) {
      const first = this.pending[0];
      if (written >= first.length) {
        written -= first.length;
        this.pending.shift();
      } else {
        this.pending[0] = first.subarray(written);
        written = 0;
      }
    }
    return true;
  }

  /** Runs a write: bytes written, 0 for a full pipe; any other error stops the log for good. */
  private writeSome(write: () => number): number {
    try {
      return write();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return 0;
      this.failed = err as Error;
      this.pending.length = 0;
      this.pendingBytes = 0;
      this.report(`log output failed (${code}): its lines are dropped from now on`);
      return 0;
    }
  }

  /**
   * Says on stderr what was lost (the log itself cannot carry it), unless stderr is the same pipe
   * (a blocking write there would wait for the reader that is not reading).
   */
  private report(message: string): void {
    try {
      const [log, err] = [fstatSync(this.fd), fstatSync(2)];
      if (log.ino !== err.ino || log.dev !== err.dev) writeSync(2, message + '\n');
    } catch {
      // stderr is gone too.
    }
  }

  private onRetry(): void {
    this.retry = undefined;
    if (this.destroyed) return;
    if (this.pending.length > 0) this.writePending();
    if (this.pending.length > 0 && !this.failed) this.retry = setTimeout(() => this.onRetry(), RETRY_MS).unref();
    else this.settle();
  }

  /** Calls the flush callbacks once nothing is pending. */
  private settle(): void {
    if (this.pending.length > 0 && !this.failed && !this.destroyed) return;
    for (const cb of this.waiting.splice(0)) cb(this.failed);
  }
}

/**
 * The destination on a socket (or where /proc is missing): a full buffer goes whole to sonic-boom
 * (asynchronous, in its `buffer` content mode), which writes it from the thread pool, queues what
 * comes while a write runs, and drops past {@link LOG_MAX_BUFFER_BYTES}. Its `flushSync` writes
 * what it queued synchronously; the write the thread pool has under way is not waited for (only if
 * the reader is a whole socket buffer behind can its <= 16 KB be lost).
 */
export function threadPoolDestination(fd: number): LogDestination {
  const destination = pino.destination({
    dest: fd,
    sync: false,
    contentMode: 'buffer',
    // Whatever is handed over is written at once (a full buffer, or a flush); 0 would make flush() not wait.
    minLength: 1,
    maxLength: LOG_MAX_BUFFER_BYTES,
    periodicFlush: LOG_FLUSH_INTERVAL_MS,
  });
  // sonic-boom's types describe its string mode only; in this mode it takes bytes.
  const writeBytes = destination.write.bind(destination) as unknown as (chunk: Buffer) => boolean;
  const flush = destination.flush.bind(destination);
  const flushSync = destination.flushSync.bind(destination);
  const state = destination as unknown as { minLength: number; _writing: boolean; _len: number };
  const lines = new LineBuffer((bytes) => (writeBytes(bytes), true));
  destination.write = ((chunk: string | Buffer) => (lines.write(chunk), true)) as typeof destination.write;
  destination.flush = ((cb?: (err?: Error) => void) => {
    lines.flush();
    // The periodic flush (no callback) with nothing for sonic-boom to do: its own flush would
    // write an empty buffer through the thread pool, 20 times a second at any level (0.85% of a
    // `warn` gateway's busy time under load). When it holds bytes, it is writing them (minLength 1).
    if (cb == null && !state._writing && state._len === 0) return;
    flush(cb);
  }) as typeof destination.flush;
  destination.flushSync = () => {
    // Queued, not started as an asynchronous write (which a process about to exit would not wait
    // for): sonic-boom's flushSync then writes it with the rest, synchronously, in order.
    const minLength = state.minLength;
    state.minLength = Infinity;
    try {
      lines.flush();
    } finally {
      state.minLength = minLength;
    }
    flushSync();
  };
  return destination as unknown as LogDestination;
}

let stdoutLog: LogDestination | undefined;

/**
 * The process's buffered stdout log, created on first use and shared by every logger of the
 * process (so their lines stay in order; see {@link bufferedDestination}). The buffer is written
 * every {@link LOG_FLUSH_INTERVAL_MS}, when it holds {@link LOG_BUFFER_BYTES},
 * at exit (synchronously), and by {@link flushLogs} / {@link drainLogs}.
 */
export function stdoutDestination(): pino.DestinationStream {
  if (!stdoutLog) {
    stdoutLog = bufferedDestination(1);
    process.on('exit', () => flushLogs());
  }
  return stdoutLog;
}

/**
 * Writes whatever the stdout log buffers, synchronously (for fatal errors and exit, when the event
 * loop will not run again).
 */
export function flushLogs(log: LogDestination | undefined = stdoutLog): void {
  try {
    log?.flushSync();
  } catch {
    // stdout closed (EPIPE) or destroyed: nothing more can be written.
  }
}

/**
 * Waits until everything the stdout log holds is written (bounded by `timeoutMs`): for a clean
 * shutdown, before `process.exit`.
 */
export function drainLogs(timeoutMs = 2000, log: LogDestination | undefined = stdoutLog): Promise<void> {
  if (!log) return Promise.resolve();
  return new Promise((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // flush() reports drained once what it found is written, even if lines came in meanwhile:
      // write those too.
      flushLogs(log);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    try {
      log.flush(done);
    } catch {
      done();
    }
  });
}
