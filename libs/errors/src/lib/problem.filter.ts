import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LogThrottle } from './log-throttle';
import { renderProblem } from './problem.render';
import type { Problem } from './problem.types';

/** How long identical server-side failures are counted rather than logged one by one. */
export const PROBLEM_LOG_INTERVAL_MS = 10_000;

interface Sample {
  logger: Logger;
  level: 'error' | 'warn';
  fields: Record<string, unknown>;
  msg: string;
}

/**
 * The filter's own log lines for 5xx answers, throttled: the first failure of a kind (same code and
 * detail; for unexpected errors, same message) is logged at once, with its stack for unexpected
 * ones, and a storm of the same failure adds one summary line per interval with the count. The
 * access log still has one line per request.
 */
export class ProblemLog {
  private readonly throttle: LogThrottle<Sample>;

  constructor(intervalMs = PROBLEM_LOG_INTERVAL_MS) {
    this.throttle = new LogThrottle<Sample>({
      intervalMs,
      onSummary: (s, suppressed) =>
        s.logger[s.level]({ ...s.fields, suppressed, interval_ms: intervalMs, msg: `${s.msg} (and ${suppressed} more like it in the last ${intervalMs} ms, not logged one by one)` }),
    });
  }

  failed(logger: Logger, err: unknown, problem: Problem, unexpected: boolean, requestId: unknown) {
    if (unexpected) {
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      const sample: Sample = { logger, level: 'error', fields: { error: message }, msg: 'request failed' };
      if (this.throttle.admit(`unexpected\0${message}`, sample)) logger.error({ err, request_id: requestId, msg: 'request failed' });
    } else if (problem.status >= 500) {
      const code = (err as { code?: string })?.code;
      const sample: Sample = { logger, level: 'warn', fields: { code }, msg: problem.detail };
      if (this.throttle.admit(`${code}\0${problem.detail}`, sample)) logger.warn({ request_id: requestId, code, msg: problem.detail });
    }
  }

  close() {
    this.throttle.close();
  }
}

/** Used when a caller passes none: one per process, like the logger behind it. */
const sharedLog = new ProblemLog();


/** Writes a mapped error to a Fastify reply. Shared by the Nest filter and the Fastify error handler. */
export function sendProblem(err: unknown, request: FastifyRequest, reply: FastifyReply, logger: Logger, log: ProblemLog = sharedLog) {
  const answer = renderProblem(err, request.url ?? '/', String(request.id));
  log.failed(logger, err, answer.problem, answer.unexpected, request.id);
  if (reply.sent) return;
  for (const [k, v] of Object.entries(answer.headers)) reply.header(k, v);
  reply.status(answer.problem.status).header('content-type', answer.contentType).send(answer.body);
}

/** The single place where thrown errors become HTTP responses. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  constructor(private readonly log: ProblemLog = sharedLog) {}

  catch(exception: unknown, host: ArgumentsHost) {
    const ctx = host.switchToHttp();
    sendProblem(exception, ctx.getRequest<FastifyRequest>(), ctx.getResponse<FastifyReply>(), this.logger, this.log);
  }
}
