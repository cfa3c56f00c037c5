export { LoggingModule, REDACTED_PATHS, type LoggingOptions } from './lib/logging.module';
export { Logger as AppLogger, PinoLogger, InjectPinoLogger } from 'nestjs-pino';
