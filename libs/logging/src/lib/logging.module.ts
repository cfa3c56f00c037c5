import { DynamicModule, Module, RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface LoggingOptions {
  /** pino level: fatal..trace or silent. */
  level: string;
  /** The service name stamped on every line. */
  service: string;
  /** Where lines go; stdout by default (tests pass a stream to read them). */
  stream?: NodeJS.WritableStream;
}

/** Headers whose values are secrets: they never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

const pathOf = (req: IncomingMessage) => ((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '').split('?')[0];

const QUIET_PATHS = /^\/(health(\/|$)|metrics$|v2\/health\/)/;

/**
 * Structured JSON logs (pino) with the request id on every line written during a request.
 * Probes and scrapes are not logged per request; client errors are `info`, server errors `error`.
 */
@Module({})
export class LoggingModule {
  static forRoot(options: LoggingOptions): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          forRoutes: [{ path: '*path', method: RequestMethod.ALL }],
          pinoHttp: {
            // In-request lines carry the request id only, not the whole request object.
            quietReqLogger: true,
            stream: options.stream,
            level: options.level,
            base: { service: options.service },
            redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
            // No genReqId: Fastify already chose the id (a well-formed X-Request-Id or a fresh UUID)
            // and pino-http keeps an id the request already has.
            customAttributeKeys: { reqId: 'request_id' },
            // Mounted middleware sees a url relative to its mount point; originalUrl is the real one.
            autoLogging: { ignore: (req: IncomingMessage) => QUIET_PATHS.test(pathOf(req)) },
            customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) =>
              err || res.statusCode >= 500 ? 'error' : 'info',
            serializers: {
              req: (req: { id?: string; method?: string; url?: string; remoteAddress?: string; headers?: Record<string, unknown> }) => ({
                method: req.method,
                url: req.url,
                remoteAddress: req.remoteAddress,
                headers: req.headers
                  ? { 'user-agent': req.headers['user-agent'], 'x-api-key': req.headers['x-api-key'], authorization: req.headers['authorization'] }
                  : undefined,
              }),
              res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
            },
          },
        }),
      ],
    };
  }
}
