export { LoggingModule, type LoggingOptions } from './lib/logging.module';
export { AppLogger } from './lib/app.logger';
export { createPino } from './lib/log.root';
export {
  bufferedDestination,
  drainLogs,
  flushLogs,
  LOG_BUFFER_BYTES,
  LOG_EXIT_WAIT_MS,
  LOG_FLUSH_INTERVAL_MS,
  LOG_MAX_BUFFER_BYTES,
  type LogDestination,
  threadPoolDestination,
} from './lib/log.destination';
export { installFatalHandlers } from './lib/log.fatal';
