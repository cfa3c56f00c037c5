export { LoggingModule, type LoggingOptions } from './lib/logging.module';
export { AppLogger } from './lib/app.logger';
