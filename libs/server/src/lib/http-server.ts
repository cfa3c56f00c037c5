import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { markReceived } from '@ml/contracts';
import type { CurrentRequest } from './client-errors';
import { limitFor, type BodyLimits } from './json-body';
import { rawAnswer, writeAnswer } from './raw-answer';
import { requestIdFor } from './request-id';

/**
 * Hooks on the Node HTTP server under Fastify, for what has to happen before Fastify sees a
 * request:
 * - the request clock: the first `request` listener stamps the arrival time on the raw message
 *   (`markReceived`), so durations and deadlines count the time spent before our hooks too;
 * - which request each socket is serving, for the client-error handler;
 * - `Expect: 100-continue`: Node would send `100 Continue` by itself; a declared body over the
 *   route's limit is refused with 413 at once instead, before the client sends it.
 * Returns the lookup the client-error handler needs.
 */
export function installServerHooks(server: Server, limits: BodyLimits): CurrentRequest {
  const serving = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse }>();
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    markReceived(req);
    serving.set(req.socket, { req, res });
  });
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    markReceived(req);
    const declared = Number(req.headers['content-length']);
    const limit = limitFor(limits, req.url ?? '/');
    if (Number.isFinite(declared) && declared > limit) {
      const err = { code: 'FST_ERR_CTP_BODY_TOO_LARGE', message: `The body exceeds ${limit} bytes.` };
      writeAnswer(res, rawAnswer(err, req.url, requestIdFor(req)));
      return;
    }
    // Authentication is the gateway's guard, which runs after the body is read: a client with a
    // bad key still gets its 401, after sending a body that fits the limit.
    res.writeContinue();
    server.emit('request', req, res);
  });
  return (socket) => {
    const now = serving.get(socket);
    // A finished response means the socket is idle between keep-alive requests.
    return now && !now.res.writableEnded ? now : undefined;
  };
}
