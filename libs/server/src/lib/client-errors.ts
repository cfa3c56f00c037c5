import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { httpResponseText, rawAnswer } from './raw-answer';
import { requestIdFor } from './request-id';

/** The request a socket is serving now, if any (set as the server's first `request` listener). */
export type CurrentRequest = (socket: Socket) => { req: IncomingMessage; res: ServerResponse } | undefined;

export interface ClientErrorLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxHeaderSize: number;
}

// Node hands the refused bytes over as a Buffer (Fastify's type says otherwise).
type ClientError = Error & { code?: string; rawPacket?: unknown };

/** The request target from the bytes Node's parser refused, when they start like a request line. */
function targetOf(rawPacket: unknown): string | undefined {
  if (!Buffer.isBuffer(rawPacket)) return undefined;
  const m = /^[A-Z]{3,10} (\/[^\s]*)/.exec(rawPacket.toString('latin1', 0, Math.min(rawPacket.length, 20_000)));
  return m?.[1];
}

function classify(err: ClientError, limits: ClientErrorLimits): { code: string; message: string } {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      code: 'REQUEST_TIMEOUT',
      message: `The request did not arrive in time: headers within ${limits.headersTimeoutMs} ms, the whole request within ${limits.requestTimeoutMs} ms.`,
    };
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return { code: 'HEADERS_TOO_LARGE', message: `The request line and headers exceed ${limits.maxHeaderSize} bytes.` };
  }
  const h2 = Buffer.isBuffer(err.rawPacket) && err.rawPacket.subarray(0, 14).toString('latin1') === 'PRI * HTTP/2.0';
  return {
    code: 'BAD_REQUEST',
    message: h2 ? 'HTTP/2 without TLS is not served here; speak HTTP/1.1.' : 'The request is not well-formed HTTP/1.1.',
  };
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser and timers refuse before a request
 * exists (headers too large, a bare CR or control character in a header, a URL over the header
 * limit, an HTTP/2 preface, a request that did not arrive within the server's timeouts) is
 * answered in the contract's shape, with a request id, and the connection is closed. Fastify's
 * default writes its own `{"error","message","statusCode"}`. Never throws; never writes to a
 * socket that cannot take it or that is already in the middle of a response.
 */
export function clientErrorHandler(current: CurrentRequest, limits: ClientErrorLimits) {
  return (err: ClientError, socket: Socket): void => {
    try {
      // A reset or closed socket has nobody left to answer.
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const serving = current(socket);
      const answer = (target: string | undefined, requestId: string) => {
        if (socket.writable) socket.write(httpResponseText(rawAnswer(classify(err, limits), target, requestId)));
        socket.destroy();
      };
      // Pipelining: an earlier request, received whole, is still being answered when the parser
      // refuses the next one. Its answer comes first (answers go in request order); the refusal
      // follows, then the connection closes. A timeout concerns the request being served itself.
      if (serving && serving.req.complete && !serving.res.writableFinished && err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') {
        const target = targetOf(err.rawPacket);
        serving.res.once('finish', () => setImmediate(() => answer(target, randomUUID())));
        serving.res.once('close', () => setImmediate(() => socket.destroy()));
        return;
      }
      if (!serving?.res.headersSent) {
        answer(serving?.req.url ?? targetOf(err.rawPacket), serving ? requestIdFor(serving.req) : randomUUID());
        return;
      }
    } catch {
      // Nothing here may take the process down; the socket is closed below either way.
    }
    socket.destroy();
  };
}
