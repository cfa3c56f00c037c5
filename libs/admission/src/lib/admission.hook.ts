import { renderProblem } from '@ml/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AdmissionController, OverloadedError, type Admission } from './admission.controller';

/** Response header on a shed answer, so a gateway in front can tell shedding from failure. */
export const SHED_HEADER = 'x-ml-shed';

export interface AdmissionHookOptions {
  /** Target name -> its controller. */
  controllers: ReadonlyMap<string, AdmissionController>;
  /** The target a request is admitted against, or undefined: never shed (probes, metrics, docs). */
  targetOf: (method: string, path: string) => string | undefined;
  /** Who is asking, for fairness between clients. */
  keyOf: (request: FastifyRequest) => string;
  /** What is left of the request's deadline, ms. */
  remainingMs: (request: FastifyRequest) => number;
  onShed?: (error: OverloadedError) => void;
}

const ADMISSION = Symbol('admission');
type Admitted = FastifyRequest & { [ADMISSION]?: Admission };

/**
 * Answers a shed request directly: the same problem+json (or the protocol's `{"error"}` on /v2) the
 * error filter would write, without the error machinery or a log line of its own. Shedding has to
 * cost far less than serving, or a flood that ignores Retry-After eats the capacity it protects;
 * each shed request still gets its access-log line, and the count is in `ml_load_shed_total`.
 */
function sendShed(error: OverloadedError, request: FastifyRequest, reply: FastifyReply) {
  const { problem, headers, contentType, body } = renderProblem(error, request.url, String(request.id));
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  reply.header(SHED_HEADER, '1').status(problem.status).header('content-type', contentType).send(body);
}

/**
 * Admission at the front door: before the body is read, a request for a guarded route is admitted
 * by its target's controller or answered 503 at once (problem+json, `Retry-After`, and the
 * {@link SHED_HEADER}). An admitted request is released when its response has been sent or its
 * client went away.
 */
export function installAdmission(fastify: FastifyInstance, options: AdmissionHookOptions): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const target = options.targetOf(request.method, request.url.split('?')[0]);
    const controller = target === undefined ? undefined : options.controllers.get(target);
    if (!controller) return done();
    try {
      const admission = controller.admit(options.keyOf(request), options.remainingMs(request));
      (request as Admitted)[ADMISSION] = admission;
      // The response's 'close' fires once it has been sent or its connection is gone, whichever
      // comes first: a client that hangs up after sending its whole request fires neither
      // onResponse nor onRequestAbort, and would otherwise stay counted in flight for ever.
      reply.raw.once('close', () => admission.release());
    } catch (e) {
      if (!(e instanceof OverloadedError)) return done(e as Error);
      options.onShed?.(e);
      sendShed(e, request, reply);
      return;
    }
    done();
  });
  const release = (request: FastifyRequest) => {
    (request as Admitted)[ADMISSION]?.release();
  };
  fastify.addHook('onResponse', (request, _reply, done) => {
    release(request);
    done();
  });
  fastify.addHook('onRequestAbort', (request, done) => {
    release(request);
    done();
  });
}
