import type { Logger as Pino } from 'pino';
import { flushLogs } from './log.destination';

/**
 * On an uncaught exception or unhandled rejection: log it at `fatal`, write out everything the
 * stdout log still buffers, synchronously, and exit 1. The process's state is unknown past that
 * point, so nothing is drained. Returns a function that removes the handlers (for tests).
 */
export function installFatalHandlers(log: Pino, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  const onFatal = (msg: string) => (err: unknown) => {
    try {
      log.fatal({ err }, msg);
    } catch {
      // A logger that throws must not keep the buffered lines from being written.
    }
    flushLogs();
    exit(1);
  };
  const onException = onFatal('uncaught exception');
  const onRejection = onFatal('unhandled rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
