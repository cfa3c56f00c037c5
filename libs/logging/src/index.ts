export { LoggingModule, type LoggingOptions } from './lib/logging.module';
export { AppLogger } from './lib/app.logger';
export { createPino } from './lib/log.root';
export { drainLogs, flushLogs } from './lib/log.destination';
export { installFatalHandlers } from './lib/log.fatal';
