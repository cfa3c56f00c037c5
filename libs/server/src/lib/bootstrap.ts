import { Logger, type INestApplication, type Type, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ProblemFilter, ProblemLog } from '@ml/errors';
import { LifecycleService } from '@ml/health';
import type { ServiceConfig } from '@ml/config';
import { AppLogger, createPino, drainLogs, flushLogs, installFatalHandlers } from '@ml/logging';
import { maxHeaderSize, type Server } from 'node:http';
import type { FastifyHttpOptions } from 'fastify';
import { clientErrorHandler, type CurrentRequest } from './client-errors';
import { installServerHooks } from './http-server';
import { installJsonBody } from './json-body';
import { installMethodNotAllowed } from './method-not-allowed';
import { STRICT_CSP, rawAnswer } from './raw-answer';
import { requestIdFor } from './request-id';

export interface ServiceOptions {
  /** Human name for logs, e.g. `gateway`. */
  name: string;
  module: Type<unknown> | DynamicModule;
  config: ServiceConfig;
  /** Routes that accept the larger batch body limit. Default: paths ending in `/batch`. */
  isBatchRoute?: (path: string) => boolean;
  /** Extra setup on the app before it listens (global pipes, OpenAPI). */
  configure?: (app: NestFastifyApplication) => void | Promise<void>;
}

export interface RunningService {
  app: NestFastifyApplication;
  /** The bound address, e.g. `http://127.0.0.1:3000`. */
  url: string;
  port: number;
  /** Fails readiness, waits for in-flight requests (bounded), closes. Resolves true when drained. */
  shutdown: (reason?: string) => Promise<boolean>;
}

/** How often Node checks its connections against the timeouts (its default of 30 s would stretch them). */
const timeoutCheckMs = (http: ServiceConfig['http']) =>
  Math.max(50, Math.min(1000, Math.floor(Math.min(http.headersTimeoutMs, http.requestTimeoutMs) / 4)));

/** Creates a Nest app on Fastify with everything every service shares. Does not listen. */
export async function createService(options: ServiceOptions): Promise<NestFastifyApplication> {
  const { config } = options;
  // The server is made inside the adapter; the lookup of in-flight requests is installed on it below.
  let current: CurrentRequest = () => undefined;
  const onClientError = clientErrorHandler((socket) => current(socket), {
    headersTimeoutMs: config.http.headersTimeoutMs,
    requestTimeoutMs: config.http.requestTimeoutMs,
    maxHeaderSize,
  });
  const fastifyOptions: FastifyHttpOptions<Server> = {
    bodyLimit: Math.max(config.bodyLimit, config.batchBodyLimit),
    trustProxy: config.trustProxy,
    genReqId: requestIdFor,
    requestIdHeader: false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Keep-alive: longer than the gateway pool's idle timeout (10 s), so the server never closes a
    // socket the pool reuses. Request and headers timeouts bound what a slow client can hold: a
    // body trickled in a byte at a time is cut off (408) when the whole request takes too long.
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    http: {
      requestTimeout: config.http.requestTimeoutMs,
      headersTimeout: config.http.headersTimeoutMs,
      connectionsCheckingInterval: timeoutCheckMs(config.http),
    },
    clientErrorHandler: onClientError,
    // What Fastify's router refuses before any hook runs (a target with bad percent-encoding) is
    // answered in the contract's shape too, not Fastify's own JSON.
    frameworkErrors: (error, request, reply) => {
      const answer = rawAnswer({ code: 'BAD_REQUEST', message: `The request target is not a valid URL (${error.code}).` }, request.url, String(request.id));
      const { connection: _close, ...headers } = answer.headers;
      // Fastify's types for this hook's reply are generic over route schemas it does not have yet.
      (reply as unknown as { code(n: number): { headers(h: object): { send(b: string): void } } }).code(answer.status).headers(headers).send(answer.body);
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  };
  const adapter = new FastifyAdapter(fastifyOptions);
  const app = await NestFactory.create<NestFastifyApplication>(options.module, adapter, {
    bufferLogs: true,
    abortOnError: false,
    // Our own JSON parser (per-route limits, prototype-poisoning checks) replaces Nest's.
    bodyParser: false,
  });
  app.useLogger(app.get(AppLogger));
  app.flushLogs();
  // One log throttle per app: a storm's summary goes to this app's logger.
  app.useGlobalFilters(new ProblemFilter(new ProblemLog()));

  const fastify = app.getHttpAdapter().getInstance();
  const isBatchRoute = options.isBatchRoute ?? ((p: string) => p.endsWith('/batch'));
  const limits = { bodyLimit: config.bodyLimit, batchBodyLimit: config.batchBodyLimit, isBatchRoute, maxDepth: config.jsonMaxDepth };
  current = installServerHooks(app.getHttpServer(), limits);

  // First hook: every answer, the early ones of the hooks below included, carries these headers
  // and is counted in and out of flight.
  const lifecycle = app.get(LifecycleService);
  fastify.addHook('onRequest', (request, reply, done) => {
    lifecycle.requestStarted();
    // Counted out once, when the response has been sent or its connection is gone (a client
    // that hangs up after sending its whole request fires neither onResponse nor onRequestAbort).
    reply.raw.once('close', () => lifecycle.requestFinished());
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-resource-policy', 'same-origin');
    if (!request.url.startsWith('/docs')) reply.header('content-security-policy', STRICT_CSP);
    done();
  });
  // While draining, every answer closes its connection: a keep-alive socket whose request was in
  // flight at SIGTERM would otherwise stay open, idle, until the drain timed out (exit 1), and a
  // pooled client (the gateway) would keep sending to this pod instead of reconnecting elsewhere.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (lifecycle.draining) reply.header('connection', 'close');
    done(null, payload);
  });
  installJsonBody(fastify, limits);
  installMethodNotAllowed(fastify, new Logger('ProblemFilter'));
  await options.configure?.(app);
  return app;
}

/** Creates, listens, marks the process booted and installs SIGTERM/SIGINT handling. */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const app = await createService(options);
  const { config } = options;
  await app.listen({ port: config.port, host: config.host });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const logger = new Logger(options.name);
  const lifecycle = app.get(LifecycleService);
  lifecycle.markBooted();
  logger.log({ msg: `${options.name} listening on ${url}`, url, port });

  let stopping: Promise<boolean> | undefined;
  const shutdown = (reason = 'shutdown') => {
    stopping ??= (async () => {
      logger.log({ msg: `${reason}: failing readiness, draining in-flight requests`, inFlight: lifecycle.requestsInFlight });
      lifecycle.startDraining();
      // Give load balancers time to see readiness fail while we still serve.
      if (config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
      const closing = app.close();
      const drained = await Promise.race([
        closing.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), config.shutdownDrainMs).unref()),
      ]);
      if (!drained) logger.warn({ msg: 'drain time exceeded; closing with requests in flight', inFlight: lifecycle.requestsInFlight });
      else logger.log({ msg: 'drained; bye' });
      return drained;
    })();
    return stopping;
  };
  return { app, url, port, shutdown };
}

/**
 * For `main.ts`: start, and exit 0 after a clean drain on SIGTERM/SIGINT (1 if the drain timed out).
 * An uncaught exception or unhandled rejection is logged and ends the process (exit 1). Every exit
 * first writes out what the buffered stdout log still holds.
 */
export async function runService(options: ServiceOptions): Promise<RunningService> {
  installFatalHandlers(createPino({ level: options.config.logLevel, service: options.name }));
  let running: RunningService;
  try {
    running = await startService(options);
  } catch (err) {
    // Boot failures (port taken, model missing) end the process with one clear line, not a stack dump.
    const e = err as Error & { code?: string };
    process.stderr.write(`${JSON.stringify({ level: 'fatal', service: options.name, msg: `failed to start: ${e.message}`, code: e.code })}
`);
    flushLogs();
    process.exit(1);
  }
  const onSignal = (signal: NodeJS.Signals) => {
    // The last access-log lines (requests that finished while draining) are still in the buffer.
    const exit = (code: number) => drainLogs().then(() => process.exit(code));
    running.shutdown(signal).then(
      (drained) => exit(drained ? 0 : 1),
      () => exit(1),
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return running;
}

export type { INestApplication, NestFastifyApplication };
