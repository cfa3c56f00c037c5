import type { Logger } from '@nestjs/common';
import { MethodNotAllowedError, sendProblem } from '@ml/errors';
import type { FastifyInstance, HTTPMethods } from 'fastify';

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The methods some route answers for this URL (path and query), in a fixed order. */
export function allowedMethods(fastify: FastifyInstance, url: string): string[] {
  const path = url.split('?')[0];
  return METHODS.filter((method) => fastify.findRoute({ method, url: path }) !== null);
}

/**
 * A request no route matches, whose path another method does have, is answered 405 with `Allow`
 * instead of 404 (problem+json; `{"error"}` on /v2). An `onRequest` hook rather than a not-found
 * handler: Nest installs its own not-found handler when it initialises, and hooks run on the
 * not-found route too (`request.is404`). Register it after the hook that sets the common headers.
 */
export function installMethodNotAllowed(fastify: FastifyInstance, logger: Logger): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!request.is404) return done();
    const allow = allowedMethods(fastify, request.url);
    if (allow.length === 0) return done();
    sendProblem(new MethodNotAllowedError(request.method, request.url.split('?')[0], allow), request, reply, logger);
  });
}
