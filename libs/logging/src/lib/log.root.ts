import pino, { type Logger as Pino } from 'pino';
import { stdoutDestination } from './log.destination';

export interface RootLogOptions {
  /** pino level: fatal..trace or silent. */
  level: string;
  /** The service name stamped on every line. */
  service: string;
  /** Where lines go; the process's buffered stdout log by default (tests pass a stream to read them). */
  stream?: NodeJS.WritableStream;
  /** Censor {@link REDACTED_PATHS} on every line (default true). */
  redact?: boolean;
}

/** What a secret's value becomes in a log line. */
export const REDACTED = '[redacted]';

/** Headers whose values are secrets: they never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

/** The root logger every line of a service goes through. */
export function createPino(options: RootLogOptions): Pino {
  return pino(
    {
      level: options.level,
      base: { service: options.service },
      ...(options.redact === false ? {} : { redact: { paths: REDACTED_PATHS, censor: REDACTED } }),
    },
    options.stream ? (options.stream as pino.DestinationStream) : stdoutDestination(),
  );
}
