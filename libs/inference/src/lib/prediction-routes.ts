import type { HttpAdapterHost } from '@nestjs/core';
import { REQUEST_TIMEOUT_HEADER } from '@ml/contracts';
import type { FastifyInstance } from 'fastify';

/** A prediction route's work: the parsed body and the `X-Request-Timeout-Ms` header in, the answer out. */
export type PredictionHandler = (body: unknown, timeoutHeader: string | undefined) => Promise<unknown>;

/**
 * Serves `POST <path>` routes as plain Fastify routes inside the Nest app. A model app's prediction
 * routes are its hottest paths, and Nest's router (execution context, guards, pipes,
 * interceptors) costs about as much per request as everything else the app does there. Everything
 * else stays the same as for any route: the app's Fastify hooks (request id, security headers,
 * access log, HTTP metrics, in-flight tracking for graceful drain), its JSON parser and body
 * limits, and its error handler, which hands errors to the app's exception filter (problem+json).
 * Call from `onModuleInit`, before the app listens.
 */
export function servePredictionRoutes(adapterHost: HttpAdapterHost, routes: Record<string, PredictionHandler>): void {
  const fastify = adapterHost.httpAdapter.getInstance<FastifyInstance>();
  for (const [path, handler] of Object.entries(routes)) {
    fastify.post(path, (request) => {
      const header = request.headers[REQUEST_TIMEOUT_HEADER];
      return handler(request.body, Array.isArray(header) ? header[0] : header);
    });
  }
}
