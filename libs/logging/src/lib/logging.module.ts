import { DynamicModule, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import pino, { type Logger as Pino } from 'pino';
import { elapsedSinceReceivedMs } from '@ml/contracts';
import { AppLogger, requestContext } from './app.logger';

export interface LoggingOptions {
  /** pino level: fatal..trace or silent. */
  level: string;
  /** The service name stamped on every line. */
  service: string;
  /** Where lines go; stdout by default (tests pass a stream to read them). */
  stream?: NodeJS.WritableStream;
  /**
   * Stamp `request_id` on every line written during a request (an AsyncLocalStorage entered per
   * request). Default false: on Node 20 an AsyncLocalStorage turns on promise hooks for the whole
   * process (measured: ~9% of the gateway's throughput). The access log and the error filter's
   * lines carry the request id either way.
   */
  requestContext?: boolean;
}

/** The process's root pino logger, provided by this module. */
export const PINO_LOGGER = Symbol('PINO_LOGGER');
const LOGGING_OPTIONS = Symbol('LOGGING_OPTIONS');

/** Headers whose values are secrets: they never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

const QUIET_PATHS = /^\/(health(\/|$)|metrics$|v2\/health\/)/;

/** The root logger every line of a service goes through. */
export function createPino(options: LoggingOptions): Pino {
  return pino(
    {
      level: options.level,
      base: { service: options.service },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    (options.stream ?? process.stdout) as pino.DestinationStream,
  );
}

const LOGGED_HEADERS = ['user-agent', 'x-api-key', 'authorization'] as const;

/** What the access log keeps of a request: never the body, secrets redacted by the root logger. */
function requestFields(request: FastifyRequest) {
  const h = request.headers;
  return {
    method: request.method,
    url: request.url,
    remoteAddress: request.ip,
    // Only headers the request has: an absent one is not logged as '[redacted]'.
    headers: Object.fromEntries(LOGGED_HEADERS.filter((name) => h[name] !== undefined).map((name) => [name, h[name]])),
  };
}

/**
 * Structured JSON logs (pino): one access-log line per request when it ends, with its request id,
 * and optionally the request id on every line written during the request. Probes and scrapes are not logged per request; client
 * errors are `info`, server errors `error`.
 *
 * Built on Fastify hooks rather than an HTTP middleware: no per-request child logger, no middleware
 * layer, and nothing at all is done for the access log when its level is off. With
 * `requestContext`, lines written during a request find its id through an AsyncLocalStorage
 * entered in `onRequest`.
 */
@Module({})
export class LoggingModule implements OnModuleInit {
  constructor(
    @Inject(PINO_LOGGER) private readonly pino: Pino,
    @Inject(LOGGING_OPTIONS) private readonly options: LoggingOptions,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  static forRoot(options: LoggingOptions): DynamicModule {
    const root = createPino(options);
    return {
      module: LoggingModule,
      providers: [
        { provide: PINO_LOGGER, useValue: root },
        { provide: LOGGING_OPTIONS, useValue: options },
        { provide: AppLogger, useValue: new AppLogger(root) },
      ],
      exports: [PINO_LOGGER, AppLogger],
    };
  }

  onModuleInit() {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify && typeof fastify.addHook === 'function') installRequestLogging(fastify, this.pino, this.options.requestContext === true);
  }
}

/** Writes each request's access-log line when it ends and, with `withContext`, enters its log context. */
export function installRequestLogging(fastify: FastifyInstance, root: Pino, withContext = false): void {
  if (withContext) {
    fastify.addHook('onRequest', (request, _reply, done) => {
      // Everything the request does from here on (body parsing, handler, promises) runs in this context.
      requestContext.run({ requestId: String(request.id) }, done);
    });
  }
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'error' : 'info';
    if (root.isLevelEnabled(level) && !QUIET_PATHS.test(request.url.split('?')[0])) {
      // Counted from the request's arrival at the server (see markReceived), as the metrics are.
      const ms = elapsedSinceReceivedMs(request.raw) ?? reply.elapsedTime;
      root[level](
        { request_id: request.id, req: requestFields(request), res: { statusCode: status }, responseTime: Math.round(ms * 1000) / 1000 },
        status >= 500 ? 'request errored' : 'request completed',
      );
    }
    done();
  });
}
