import type { FastifyInstance, FastifyRequest } from 'fastify';
import sjson from 'secure-json-parse';
import { nestsDeeperThan } from './json-depth';

/** A JSON body that could not be parsed: 400. */
class MalformedJsonError extends Error {
  readonly code = 'MALFORMED_JSON';
  readonly statusCode = 400;
}
/** A body nested deeper than the limit: 400, before anything could recurse into it. */
class NestingTooDeepError extends Error {
  readonly code = 'NESTING_TOO_DEEP';
  readonly statusCode = 400;
}
/** A body over the route's limit: 413. */
/** A compressed (or otherwise encoded) body: not served, so 415 rather than a misleading 400. */
class UnsupportedEncodingError extends Error {
  readonly code = 'FST_ERR_CTP_INVALID_MEDIA_TYPE';
  readonly statusCode = 415;
}
class BodyTooLargeError extends Error {
  readonly code = 'FST_ERR_CTP_BODY_TOO_LARGE';
  readonly statusCode = 413;
}

export interface BodyLimits {
  bodyLimit: number;
  batchBodyLimit: number;
  /** Routes that take the larger limit (batch endpoints). */
  isBatchRoute: (url: string) => boolean;
  /** Deepest nesting of arrays/objects a body may have. */
  maxDepth: number;
}

/** The body limit of the route a URL goes to. */
export const limitFor = (limits: BodyLimits, url: string) =>
  limits.isBatchRoute(url.split('?')[0]) ? limits.batchBodyLimit : limits.bodyLimit;

/**
 * JSON bodies: per-route size limits (a declared Content-Length over the limit is refused before
 * reading), a nesting limit checked on the text before it is parsed, and prototype-polluting keys
 * (`__proto__`, `constructor.prototype`) rejected with 400.
 */
export function installJsonBody(fastify: FastifyInstance, limits: BodyLimits) {
  // JSON only: every other media type (text/plain included) is answered 415.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    /^application\/([\w.+-]+\+)?json(\s*;.*)?$/i,
    { parseAs: 'string', bodyLimit: Math.max(limits.bodyLimit, limits.batchBodyLimit) },
    (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
      const encoding = request.headers['content-encoding'];
      if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
        return done(new UnsupportedEncodingError(`Content-Encoding "${String(encoding).slice(0, 40)}" is not supported; send the JSON uncompressed.`));
      }
      const text = typeof body === 'string' ? body : body.toString('utf8');
      const limit = limitFor(limits, request.url);
      if (Buffer.byteLength(text) > limit) return done(new BodyTooLargeError(`The body exceeds ${limit} bytes.`));
      if (text.trim() === '') return done(new MalformedJsonError('The body is empty; a JSON document was expected.'));
      if (nestsDeeperThan(text, limits.maxDepth)) {
        return done(new NestingTooDeepError(`The body nests arrays or objects deeper than ${limits.maxDepth} levels.`));
      }
      let value: unknown;
      try {
        value = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
      } catch (err) {
        const forbidden = /forbidden/i.test((err as Error).message);
        return done(
          new MalformedJsonError(
            forbidden
              ? 'The body contains a forbidden key (__proto__ or constructor.prototype).'
              : 'The body is not valid JSON.',
          ),
        );
      }
      done(null, value);
    },
  );
  fastify.addHook('onRequest', (request, _reply, done) => {
    const declared = Number(request.headers['content-length']);
    const limit = limitFor(limits, request.url);
    if (Number.isFinite(declared) && declared > limit) return done(new BodyTooLargeError(`The body exceeds ${limit} bytes.`));
    done();
  });
}
