import { STATUS_CODES, type ServerResponse } from 'node:http';
import { renderProblem } from '@ml/errors';

/** The Content-Security-Policy of every response that is not the OpenAPI UI. */
export const STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/** An error answered below Fastify: its status, headers and body, in the shape of the contract. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Longer targets (a 16 KB URL refused as too large, say) are not echoed back as `instance`. */
const MAX_INSTANCE_LENGTH = 2048;

/**
 * Maps a coded error (see PROBLEM_MAP) to what the Fastify error path would have written: a
 * problem+json document, or `{"error"}` when the target is known to be an Open Inference Protocol
 * path. Used where Fastify never sees the request (Node's parser and timers, `Expect:
 * 100-continue`), so these answers carry the same headers as the others, and close the connection:
 * what follows on the socket can no longer be trusted to start a request.
 */
export function rawAnswer(err: { code: string; message: string }, target: string | undefined, requestId: string): RawAnswer {
  const path = target?.split('?')[0] ?? '';
  const { problem, headers, contentType, body } = renderProblem(err, target ?? '', requestId, path.length <= MAX_INSTANCE_LENGTH ? path : '');
  return {
    status: problem.status,
    body,
    headers: {
      ...headers,
      'content-type': contentType,
      'x-request-id': requestId,
      'x-content-type-options': 'nosniff',
      'content-security-policy': STRICT_CSP,
      connection: 'close',
    },
  };
}

/** The answer as the bytes of an HTTP/1.1 response, for a socket that has no ServerResponse. */
export function httpResponseText(answer: RawAnswer): string {
  const lines = [`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}`];
  for (const [name, value] of Object.entries(answer.headers)) lines.push(`${name}: ${value}`);
  lines.push(`content-length: ${Buffer.byteLength(answer.body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${answer.body}`;
}

/** The answer through a ServerResponse Fastify never received. */
export function writeAnswer(res: ServerResponse, answer: RawAnswer): void {
  res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
  res.end(answer.body);
}
