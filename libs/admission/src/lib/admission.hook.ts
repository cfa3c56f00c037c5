import type { FastifyInstance, FastifyRequest } from 'fastify';
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
 * Admission at the front door: before the body is read, a request for a guarded route is admitted
 * by its target's controller or answered 503 at once (problem+json through the app's error
 * handler, `Retry-After`, and the {@link SHED_HEADER}). An admitted request is released when its
 * response has been sent or its client went away.
 */
export function installAdmission(fastify: FastifyInstance, options: AdmissionHookOptions): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const target = options.targetOf(request.method, request.url.split('?')[0]);
    const controller = target === undefined ? undefined : options.controllers.get(target);
    if (!controller) return done();
    try {
      (request as Admitted)[ADMISSION] = controller.admit(options.keyOf(request), options.remainingMs(request));
    } catch (e) {
      if (!(e instanceof OverloadedError)) return done(e as Error);
      options.onShed?.(e);
      reply.header(SHED_HEADER, '1');
      return done(e);
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
