import pino from 'pino';

/**
 * Bytes the stdout log collects before it writes: one write(2) per 16 KB (about 55 access-log
 * lines). Writing each line as it came cost the intent classifier ~20% of its throughput at
 * LOG_LEVEL=info; a write per 4 KB still cost ~1 µs of CPU a line in hand-overs to the thread pool
 * and back. Not larger: at a fatal error the write under way is the thread pool's and is not
 * waited for, and one of 64 KB, a pipe's whole capacity, was lost when stdout's reader lagged
 * (log.fatal.spec.ts; docs/ARCHITECTURE.md, Logging).
 */
export const LOG_BUFFER_BYTES = 16 * 1024;
/** Longest a line waits in the buffer when traffic is light (a timer; cheap next to a write per line). */
export const LOG_FLUSH_INTERVAL_MS = 50;
/**
 * Past this much unwritten log (stdout's reader stalled), new lines are dropped rather than held:
 * a stalled log collector must neither block serving nor exhaust memory.
 */
export const LOG_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

export type LogDestination = ReturnType<typeof pino.destination>;

/**
 * A buffered, asynchronous destination on a file descriptor (see {@link stdoutDestination}).
 *
 * Lines are encoded straight into one {@link LOG_BUFFER_BYTES} buffer; a full buffer goes whole to
 * sonic-boom (in its `buffer` content mode), which writes it off the event loop, queues what comes
 * while a write runs, and drops past {@link LOG_MAX_BUFFER_BYTES}. Handing sonic-boom each line
 * instead cost a `Buffer` per line, a copy of each 4 KB into a new one and a write per 4 KB: 1.4-1.8
 * times the CPU per 300-byte line, and twice the event loop's share of it (tools/bench/src/log-write.ts,
 * 2026-12-05; docs/ARCHITECTURE.md, Logging). sonic-boom's own string mode was worse still: it
 * re-measures the whole buffered string's UTF-8 length on every line.
 *
 * `flush`, `flushSync` and the periodic flush (sonic-boom calls `this.flush`) hand over the
 * partly-filled buffer first, so every line, whoever wrote it, goes out in order. A periodic flush
 * with nothing collected does nothing (sonic-boom's own writes an empty buffer: a thread-pool
 * round trip every {@link LOG_FLUSH_INTERVAL_MS}, measured at 0.85% of a `warn` gateway's busy time
 * under load on a 2-core VM).
 */
export function bufferedDestination(fd: number): LogDestination {
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
  let buffer = Buffer.allocUnsafeSlow(LOG_BUFFER_BYTES);
  let used = 0;
  const handOver = () => {
    if (used === 0) return;
    // sonic-boom keeps the bytes until they are written: the next lines go to a new buffer.
    writeBytes(buffer.subarray(0, used));
    buffer = Buffer.allocUnsafeSlow(LOG_BUFFER_BYTES);
    used = 0;
  };
  destination.write = ((chunk: string | Buffer) => {
    const text = typeof chunk === 'string';
    // A string takes at most 3 bytes per UTF-16 unit: its byte length is counted only when it might not fit.
    if (used + (text ? chunk.length * 3 : chunk.length) > LOG_BUFFER_BYTES) {
      const bytes = text ? Buffer.byteLength(chunk) : chunk.length;
      if (used + bytes > LOG_BUFFER_BYTES) {
        handOver();
        if (bytes > LOG_BUFFER_BYTES) return writeBytes(text ? Buffer.from(chunk) : chunk);
      }
    }
    used += text ? buffer.write(chunk, used) : chunk.copy(buffer, used);
    return true;
  }) as LogDestination['write'];
  destination.flush = ((cb?: (err?: Error) => void) => {
    // The periodic flush (no callback) with nothing collected: sonic-boom would write an empty
    // buffer through the thread pool, 20 times a second at any level. Whatever it already holds
    // is being written (minLength 1), so there is nothing for it to do.
    if (used === 0 && cb == null) return;
    handOver();
    flush(cb);
  }) as LogDestination['flush'];
  destination.flushSync = () => {
    // Queued, not started as an asynchronous write (which a process about to exit would not wait
    // for): sonic-boom's flushSync then writes it with the rest, synchronously, in order.
    const state = destination as unknown as { minLength: number };
    const minLength = state.minLength;
    state.minLength = Infinity;
    try {
      handOver();
    } finally {
      state.minLength = minLength;
    }
    flushSync();
  };
  return destination;
}

let stdoutLog: LogDestination | undefined;

/**
 * The process's buffered stdout log, created on first use and shared by every logger of the
 * process (so their lines stay in order). Writes happen off the event loop (sonic-boom, async);
 * the buffer is written every {@link LOG_FLUSH_INTERVAL_MS}, when it holds {@link LOG_BUFFER_BYTES},
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
 * loop will not run again). A chunk already handed to an asynchronous write is not written twice.
 */
export function flushLogs(log: LogDestination | undefined = stdoutLog): void {
  try {
    log?.flushSync();
  } catch {
    // stdout closed (EPIPE) or destroyed: nothing more can be written.
  }
}

/**
 * Waits until everything the stdout log holds is written, the write in progress included (bounded
 * by `timeoutMs`): for a clean shutdown, before `process.exit`.
 */
export function drainLogs(timeoutMs = 2000, log: LogDestination | undefined = stdoutLog): Promise<void> {
  if (!log) return Promise.resolve();
  return new Promise((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // flush() reports drained once the write in progress ends, even if lines shorter than the
      // buffer size came in meanwhile: write those too.
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
