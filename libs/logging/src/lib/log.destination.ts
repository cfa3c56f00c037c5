import pino from 'pino';

/**
 * Bytes the stdout log collects before it writes: one write(2) per ~4 KB (about 15 access-log
 * lines) instead of one per line. Writing each line as it came cost the intent classifier ~20%
 * of its throughput at LOG_LEVEL=info (docs/ARCHITECTURE.md, Logging).
 */
export const LOG_BUFFER_BYTES = 4096;
/** Longest a line waits in the buffer when traffic is light (a timer; cheap next to a write per line). */
export const LOG_FLUSH_INTERVAL_MS = 50;
/**
 * Past this much unwritten log (stdout's reader stalled), new lines are dropped rather than held:
 * a stalled log collector must neither block serving nor exhaust memory.
 */
export const LOG_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

export type LogDestination = ReturnType<typeof pino.destination>;

let stdoutLog: LogDestination | undefined;

/**
 * A buffered, asynchronous destination on a file descriptor (see {@link stdoutDestination}).
 *
 * sonic-boom in its `buffer` content mode, each line handed over as a Buffer. In its default
 * `utf8` mode it appends each line to one growing string and measures that whole string's UTF-8
 * length on every write (`Buffer.byteLength`, which first flattens the concatenation), so a line's
 * cost grows with what the buffer already holds. In `buffer` mode a line costs its own conversion
 * and a push: 0.8 against 2.0 µs of CPU per 280-byte line (tools/bench/src/log-write.ts,
 * 2026-12-05; see docs/ARCHITECTURE.md, Logging).
 */
export function bufferedDestination(fd: number): LogDestination {
  const destination = pino.destination({
    dest: fd,
    sync: false,
    contentMode: 'buffer',
    minLength: LOG_BUFFER_BYTES,
    maxLength: LOG_MAX_BUFFER_BYTES,
    periodicFlush: LOG_FLUSH_INTERVAL_MS,
  });
  // pino and the access log write strings; this mode takes bytes.
  // (sonic-boom's types describe its string mode only.)
  const writeBytes = destination.write.bind(destination) as unknown as (chunk: Buffer) => boolean;
  destination.write = ((chunk: string | Buffer) => writeBytes(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) as LogDestination['write'];
  return destination;
}

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
