import type { HttpAdapterHost } from '@nestjs/core';
import { REQUEST_TIMEOUT_HEADER, remainingBudgetMs } from '@ml/contracts';
import { ServiceError } from '@ml/errors';
import type { FastifyInstance } from 'fastify';

/**
 * A prediction route's work: the parsed body and what is left of the request's time budget in
 * milliseconds (always > 0) in, the answer out.
 */
export type PredictionHandler = (body: unknown, budgetMs: number) => Promise<unknown>;

export interface PredictionRouteOptions {
  /** The app's default deadline (REQUEST_TIMEOUT_MS); a client may ask for less with `X-Request-Timeout-Ms`. */
  requestTimeoutMs: number;
}

/**
 * Serves `POST <path>` routes as plain Fastify routes inside the Nest app. A model app's prediction
 * routes are its hottest paths, and Nest's router (execution context, guards, pipes,
 * interceptors) costs about as much per request as everything else the app does there. Everything
 * else stays the same as for any route: the app's Fastify hooks (request id, security headers,
 * access log, HTTP metrics, in-flight tracking for graceful drain), its JSON parser and body
 * limits, and its error handler, which hands errors to the app's exception filter (problem+json).
 * Call from `onModuleInit`, before the app listens.
 *
 * The budget handed to a handler counts from the request's arrival at the server (see
 * `markReceived` in libs/contracts), so time spent receiving and parsing the body, or waiting
 * behind other work on the event loop, is not granted twice; a request whose budget is already
 * spent is answered 504 without running anything.
 */
export function servePredictionRoutes(adapterHost: HttpAdapterHost, routes: Record<string, PredictionHandler>, options: PredictionRouteOptions): void {
  const fastify = adapterHost.httpAdapter.getInstance<FastifyInstance>();
  for (const [path, handler] of Object.entries(routes)) {
    fastify.post(path, async (request) => {
      const budgetMs = remainingBudgetMs(request.raw, request.headers[REQUEST_TIMEOUT_HEADER], options.requestTimeoutMs);
      if (budgetMs <= 0) {
        throw new ServiceError('DEADLINE_EXCEEDED', `${path}: deadline passed before the request was handled`, {
          publicDetail: 'The request deadline passed before the prediction could be made.',
        });
      }
      return handler(request.body, budgetMs);
    });
  }
}
