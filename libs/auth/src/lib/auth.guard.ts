import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { sha256, type ApiKeyEntry, type AuthConfig, type ModelScope } from './auth.config';
import { AUTH_CONFIG } from './auth.constants';
import { ForbiddenError, UnauthorizedError } from './auth.errors';

const PUBLIC = 'auth:public';
/** Probes and protocol health need no key; they live in libs that know nothing of auth. */
const PUBLIC_PATHS = /^\/(health(\/.*)?|v2|v2\/health\/(live|ready)|docs(-json)?(\/.*)?)$/;
const SCOPE = 'auth:scope';

/** No key needed (health, docs; metrics unless METRICS_REQUIRE_KEY). */
export const Public = () => SetMetadata(PUBLIC, true);
/** The key must hold this model's scope (or no scopes at all). */
export const RequiresScope = (scope: ModelScope) => SetMetadata(SCOPE, scope);

/** What the guard leaves on the request for the rate limiter, logs and metrics. Never the secret. */
export interface AuthenticatedKey {
  name: string;
  scopes: ModelScope[];
}
export type AuthedRequest = FastifyRequest & { apiKey?: AuthenticatedKey };

/** The secret from `X-API-Key`, or `Authorization: Bearer <secret>`. */
export function presentedSecret(headers: FastifyRequest['headers']): string | undefined {
  const key = headers['x-api-key'];
  if (typeof key === 'string' && key.length > 0) return key;
  const auth = headers['authorization'];
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Compares digests, not secrets, in constant time, and checks every key so the time taken does not
 * depend on which one matched. Any length of wrong key is just a miss.
 */
export function matchKey(keys: readonly ApiKeyEntry[], secret: string): ApiKeyEntry | undefined {
  const digest = sha256(secret);
  let found: ApiKeyEntry | undefined;
  for (const k of keys) if (timingSafeEqual(k.digest, digest) && !found) found = k;
  return found;
}

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const path = (request.url ?? '').split('?')[0];
    const isMetrics = path === '/metrics';
    if (isMetrics) {
      if (!this.config.metricsRequireKey) return true;
    } else if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets) || PUBLIC_PATHS.test(path)) {
      return true;
    }
    this.authenticate(request, requiredScope(context.getHandler(), context.getClass()));
    return true;
  }

  /**
   * The check of a route that needs a key, apart from Nest's guard pipeline (a route served
   * directly by Fastify calls it too): the key must be present, valid and, when `scope` is given,
   * hold it. Leaves the key's name and scopes on the request; throws 401 or 403 problems.
   */
  authenticate(request: AuthedRequest, scope: ModelScope | undefined): AuthenticatedKey {
    const secret = presentedSecret(request.headers);
    if (!secret) throw new UnauthorizedError('An API key is required: send it in X-API-Key or Authorization: Bearer.');
    const key = matchKey(this.config.keys, secret);
    if (!key) throw new UnauthorizedError('The API key is not valid.');
    if (scope && key.scopes.length > 0 && !key.scopes.includes(scope)) {
      throw new ForbiddenError(`The API key "${key.name}" may not call ${scope}.`);
    }
    return (request.apiKey = { name: key.name, scopes: key.scopes });
  }
}

/** The scope `@RequiresScope` gave a route handler, else its controller (the guard's reading, and a direct route's at boot). */
export function requiredScope(handler: object, controller: object): ModelScope | undefined {
  return (Reflect.getMetadata(SCOPE, handler) ?? Reflect.getMetadata(SCOPE, controller)) as ModelScope | undefined;
}
