import { Injectable, RequestMethod, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { ApiKeyGuard, requiredScope, type AuthedRequest } from '@ml/auth';
import { RateLimitGuard, declaredCost, type CostRequest } from '@ml/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { PredictController } from './predict.controller';

type PredictHandler = (body: unknown, req: FastifyRequest, reply: FastifyReply) => unknown;

interface DirectRoute {
  method: string;
  url: string;
  handler: PredictHandler;
  scope: ReturnType<typeof requiredScope>;
  cost: ReturnType<typeof declaredCost>;
}

const join = (...parts: string[]) => '/' + parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/');

/** The routes PredictController declares, with what its decorators say about each (read once). */
export function predictRoutes(): DirectRoute[] {
  const base = String(Reflect.getMetadata(PATH_METADATA, PredictController) ?? '');
  const proto = PredictController.prototype as unknown as Record<string, unknown>;
  return Object.getOwnPropertyNames(proto)
    .filter((name) => name !== 'constructor')
    .map((name) => proto[name])
    .filter((fn): fn is PredictHandler => typeof fn === 'function' && Reflect.getMetadata(METHOD_METADATA, fn) !== undefined)
    .map((fn) => ({
      method: RequestMethod[Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod],
      url: join(base, String(Reflect.getMetadata(PATH_METADATA, fn))),
      handler: fn,
      scope: requiredScope(fn, PredictController),
      cost: declaredCost(fn, PredictController),
    }));
}

/**
 * The prediction routes served by Fastify directly, outside Nest's per-request pipeline.
 *
 * Nest still declares, documents (OpenAPI) and registers them from PredictController; as each is
 * registered, the Fastify handler Nest made for it is swapped for one that does what the pipeline
 * would: the API key check of the global auth guard (`ApiKeyGuard.authenticate`, the route's
 * `@RequiresScope`), the limiter of `RateLimitGuard` (`charge`, the route's `@RateLimitCost`), then
 * the controller's own method with the parsed body, the request and the reply. Errors go to the
 * same place as before: Fastify's error handler, which Nest points at the global ProblemFilter.
 * Fastify-level hooks (request id, admission, access log, metrics, body limits) run as for any
 * route. Why: on a cache hit the gateway's event loop is the limit, and Nest's guard and router
 * machinery (execution contexts, metadata reads, several awaits per guard) cost about a sixth of
 * its CPU per request (docs/ARCHITECTURE.md, "Gateway prediction routes served by Fastify directly").
 *
 * PredictController's methods must keep the `(body, request, reply)` signature; the app refuses to
 * start when a route it declares was not swapped.
 */
@Injectable()
export class PredictDirectRoutes implements OnModuleInit, OnApplicationBootstrap {
  private readonly routes = new Map<string, DirectRoute>();
  private readonly swapped = new Set<string>();
  private controller?: PredictController;
  private auth?: ApiKeyGuard;
  private limiter?: RateLimitGuard;

  constructor(
    adapterHost: HttpAdapterHost,
    private readonly moduleRef: ModuleRef,
  ) {
    for (const route of predictRoutes()) this.routes.set(`${route.method} ${route.url}`, route);
    // Providers are made before Nest registers any route, so the hook sees every registration.
    const fastify = adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRoute', (options: RouteOptions) => {
      const methods = Array.isArray(options.method) ? options.method : [options.method];
      if (methods.length !== 1) return;
      const key = `${methods[0]} ${options.url}`;
      const route = this.routes.get(key);
      if (!route) return;
      options.handler = this.directHandler(route);
      this.swapped.add(key);
    });
  }

  onModuleInit() {
    this.controller = this.moduleRef.get(PredictController, { strict: false });
    this.auth = this.moduleRef.get(ApiKeyGuard, { strict: false });
    this.limiter = this.moduleRef.get(RateLimitGuard, { strict: false });
  }

  onApplicationBootstrap() {
    const missing = [...this.routes.keys()].filter((k) => !this.swapped.has(k));
    if (missing.length > 0) throw new Error(`prediction routes not served directly (Nest registered them differently): ${missing.join(', ')}`);
  }

  private directHandler(route: DirectRoute) {
    const { handler, scope, cost } = route;
    return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const auth = this.auth as ApiKeyGuard;
      const limiter = this.limiter as RateLimitGuard;
      auth.authenticate(request as AuthedRequest, scope);
      await limiter.charge(request as unknown as Record<string, unknown>, reply, limiter.costOf(cost, request as unknown as CostRequest));
      return handler.call(this.controller, request.body, request, reply);
    };
  }
}
