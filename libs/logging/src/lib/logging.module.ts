import { DynamicModule, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import pino, { type Logger as Pino } from 'pino';
import { elapsedSinceReceivedMs } from '@ml/contracts';
import { AppLogger, requestContext } from './app.logger';
import { createPino, REDACTED, type RootLogOptions } from './log.root';

export interface LoggingOptions extends RootLogOptions {
  /**
   * Stamp `request_id` on every line written during a request (an AsyncLocalStorage entered per
   * request). Default false: on Node 20 an AsyncLocalStorage turns on promise hooks for the whole
   * process (measured: ~9% of the gateway's throughput). The access log and the error filter's
   * lines carry the request id either way.
   */
  requestContext?: boolean;
  /**
   * Share of successful (status < 400), fast requests whose access-log line is written, in (0, 1];
   * default 1, every request. Errors and slow requests are always logged; a sampled line carries
   * `sampleRate` so counts can be scaled back up.
   */
  accessLogSample?: number;
  /** A request that took at least this long (ms) is always logged. Default: never counted as slow. */
  slowRequestMs?: number;
}

/** How the access log picks its lines. */
export interface AccessLogPolicy {
  sample: number;
  slowRequestMs: number;
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
}

/** The process's root pino logger, provided by this module. */
export const PINO_LOGGER = Symbol('PINO_LOGGER');
const LOGGING_OPTIONS = Symbol('LOGGING_OPTIONS');
/** The access log's logger: the root's destination and level, without redaction (see requestFields). */
const ACCESS_LOGGER = Symbol('ACCESS_LOGGER');

/** Probes and scrapes, with or without a query string: not logged per request. */
const QUIET_PATHS = /^\/(health([/?]|$)|metrics(\?|$)|v2\/health\/)/;

/** Printable ASCII without `"` and `\`: such a string is its own JSON body. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A value as JSON; a plain string is quoted directly (the common case, cheaper than JSON.stringify). */
const json = (value: unknown): string => (typeof value === 'string' && PLAIN.test(value) ? '"' + value + '"' : JSON.stringify(value));

/** `,"key":value`, or nothing for undefined, as JSON.stringify leaves it out. */
const jsonField = (key: string, value: unknown): string => (value === undefined ? '' : ',"' + key + '":' + json(value));

/**
 * The access-log line, built directly as pino would write it (level, time, the logger's bindings,
 * then the fields and `msg`) and handed to the logger's own destination: one line per request is
 * the hottest log call there is. pino's general object serialisation cost ~4 µs of it; this, one
 * concatenation with no intermediate arrays and plain strings quoted without JSON.stringify, ~0.3 µs
 * (0.6 µs with them; a node microbenchmark of 10^6 lines, 2026-12-05). What it keeps of a request:
 * never the body; of the secrets, only that they were sent (censored here rather than through
 * pino's redaction).
 */
export function accessLine(
  log: Pino,
  level: 'info' | 'error',
  request: FastifyRequest,
  status: number,
  responseTimeMs: number,
  sampleRate?: number,
): string {
  const h = request.headers;
  // Only headers the request has: an absent one is not logged as '[redacted]'.
  let headers = h['user-agent'] === undefined ? '' : '"user-agent":' + json(h['user-agent']);
  if (h['x-api-key'] !== undefined) headers += (headers === '' ? '' : ',') + '"x-api-key":"' + REDACTED + '"';
  if (h.authorization !== undefined) headers += (headers === '' ? '' : ',') + '"authorization":"' + REDACTED + '"';
  const bindings = (log as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  return (
    '{"level":' + log.levels.values[level] + ',"time":' + Date.now() + bindings + jsonField('request_id', request.id) +
    ',"req":{"method":' + json(request.method) + jsonField('url', request.url) + jsonField('remoteAddress', request.ip) + ',"headers":{' + headers + '}}' +
    ',"res":{"statusCode":' + status + '},"responseTime":' + Math.round(responseTimeMs * 1000) / 1000 + jsonField('sampleRate', sampleRate) +
    ',"msg":"' + (status >= 500 ? 'request errored' : 'request completed') + '"}\n'
  );
}

/**
 * Structured JSON logs (pino): one access-log line per request when it ends, with its request id,
 * and optionally the request id on every line written during the request. Probes and scrapes are not logged per request; client
 * errors are `info`, server errors `error`. Lines go to a buffered stdout (see stdoutDestination).
 *
 * Built on Fastify hooks rather than an HTTP middleware: no per-request child logger, no middleware
 * layer, and nothing at all is done for the access log when its level is off. With
 * `requestContext`, lines written during a request find its id through an AsyncLocalStorage
 * entered in `onRequest`.
 */
@Module({})
export class LoggingModule implements OnModuleInit {
  constructor(
    @Inject(ACCESS_LOGGER) private readonly accessLog: Pino,
    @Inject(LOGGING_OPTIONS) private readonly options: LoggingOptions,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  static forRoot(options: LoggingOptions): DynamicModule {
    const root = createPino(options);
    return {
      module: LoggingModule,
      providers: [
        { provide: PINO_LOGGER, useValue: root },
        { provide: ACCESS_LOGGER, useValue: createPino({ ...options, redact: false }) },
        { provide: LOGGING_OPTIONS, useValue: options },
        { provide: AppLogger, useValue: new AppLogger(root) },
      ],
      exports: [PINO_LOGGER, AppLogger],
    };
  }

  onModuleInit() {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    const { requestContext: withContext = false, accessLogSample: sample = 1, slowRequestMs = Infinity } = this.options;
    if (fastify && typeof fastify.addHook === 'function') installRequestLogging(fastify, this.accessLog, withContext, { sample, slowRequestMs });
  }
}

/**
 * Writes each request's access-log line when it ends (all of them, or a sample of the successful
 * fast ones) and, with `withContext`, enters its log context.
 */
export function installRequestLogging(
  fastify: FastifyInstance,
  log: Pino,
  withContext = false,
  { sample, slowRequestMs, random = Math.random }: AccessLogPolicy = { sample: 1, slowRequestMs: Infinity },
): void {
  if (withContext) {
    fastify.addHook('onRequest', (request, _reply, done) => {
      // Everything the request does from here on (body parsing, handler, promises) runs in this context.
      requestContext.run({ requestId: String(request.id) }, done);
    });
  }
  // The logger's own destination (the buffered stdout, or a test's stream): lines stay in order with its other lines.
  const destination = (log as unknown as Record<symbol, { write(line: string): unknown }>)[pino.symbols.streamSym];
  // A named function apart from the hook, so that a CPU profile shows what the access log costs
  // (`npm run bench:profile -- <file> --inclusive logResponse,sonic-boom`) without the hooks after it.
  function logResponse(request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const level = status >= 500 ? 'error' : 'info';
    if (!log.isLevelEnabled(level) || QUIET_PATHS.test(request.url)) return;
    // Counted from the request's arrival at the server (see markReceived), as the metrics are.
    const ms = elapsedSinceReceivedMs(request.raw) ?? reply.elapsedTime;
    const sampled = sample < 1 && status < 400 && ms < slowRequestMs;
    if (!sampled || random() < sample) {
      destination.write(accessLine(log, level, request, status, ms, sampled ? sample : undefined));
    }
  }
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    logResponse(request, reply);
    done();
  });
}
