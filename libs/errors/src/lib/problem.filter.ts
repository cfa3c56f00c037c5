import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toProblem } from './problem.mapper';

/** Paths that speak the Open Inference Protocol answer errors as `{"error": "..."}`. */
export const isInferenceProtocolPath = (url: string) => url === '/v2' || url.startsWith('/v2/') || url.startsWith('/v2?');

/** Writes a mapped error to a Fastify reply. Shared by the Nest filter and the Fastify error handler. */
export function sendProblem(err: unknown, request: FastifyRequest, reply: FastifyReply, logger: Logger) {
  const url = request.url ?? '/';
  const path = url.split('?')[0];
  const { problem, headers, unexpected } = toProblem(err, path, String(request.id));
  if (unexpected) {
    logger.error({ err, request_id: request.id, msg: 'request failed' });
  } else if (problem.status >= 500) {
    logger.warn({ request_id: request.id, code: (err as { code?: string })?.code, msg: problem.detail });
  }
  if (reply.sent) return;
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  reply.status(problem.status);
  if (isInferenceProtocolPath(url)) {
    const detail = problem.errors?.length
      ? `${problem.detail} ${problem.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`
      : problem.detail;
    reply.header('content-type', 'application/json; charset=utf-8').send(JSON.stringify({ error: detail }));
  } else {
    reply.header('content-type', 'application/problem+json; charset=utf-8').send(JSON.stringify(problem));
  }
}

/** The single place where thrown errors become HTTP responses. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost) {
    const ctx = host.switchToHttp();
    sendProblem(exception, ctx.getRequest<FastifyRequest>(), ctx.getResponse<FastifyReply>(), this.logger);
  }
}
