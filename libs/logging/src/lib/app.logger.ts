import type { LoggerService } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Level, Logger as Pino } from 'pino';

/** What a log line written during a request learns about it. */
export interface RequestLogContext {
  requestId: string;
}

/** Nest's own boot chatter, a line per module and per route (~30 per app): `debug`, not `info`. */
const NEST_BOOT_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/** Entered for every HTTP request (see installRequestLogging); empty outside requests. */
export const requestContext = new AsyncLocalStorage<RequestLogContext>();

/**
 * Nest's LoggerService on pino: `new Logger('Ctx').warn({ msg, ...fields })` becomes one JSON line
 * with `context` and, inside a request, `request_id`. Object messages are merged into the line;
 * an Error becomes `err` (pino's serializer keeps its type, message and stack).
 */
export class AppLogger implements LoggerService {
  constructor(private readonly pino: Pino) {}

  log(message: unknown, ...rest: unknown[]) {
    const context = rest[rest.length - 1];
    this.write(typeof context === 'string' && NEST_BOOT_CONTEXTS.has(context) ? 'debug' : 'info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.write('error', message, rest, true);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.write('fatal', message, rest);
  }

  private write(level: Level, message: unknown, rest: unknown[], isError = false) {
    if (!this.pino.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    // Nest's Logger passes its context as the last argument.
    const params = [...rest];
    if (params.length > 0 && typeof params[params.length - 1] === 'string') fields['context'] = params.pop();
    // Nest's error(message, stack, context): a leftover string is the stack of a non-Error.
    if (isError && typeof params[0] === 'string') fields['stack'] = params[0];
    const store = requestContext.getStore();
    if (store) fields['request_id'] = store.requestId;
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ ...fields, ...(message as Record<string, unknown>) });
    } else {
      this.pino[level](fields, String(message));
    }
  }
}
