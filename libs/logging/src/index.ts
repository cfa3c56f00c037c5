export { LoggingModule, PINO_LOGGER, REDACTED_PATHS, createPino, installRequestLogging, type LoggingOptions } from './lib/logging.module';
export { AppLogger, requestContext, type RequestLogContext } from './lib/app.logger';
