import { ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { redisBudgetOf } from '@ml/redis';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  normalizeIp,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { SKIP_RATE_LIMIT, declaredCost, normaliseCost, type CostRequest, type RateLimitCostFn } from './rate-limit.decorators';
import { RateLimitedError } from './rate-limit.errors';
import { policyHeader, rateLimitHeader } from './rate-limit.headers';
import { RateLimitService } from './rate-limit.service';
import { secondsUntilReset, type Tracker } from './rate-limit.types';

type MetadataKey = Parameters<Reflector['getAllAndOverride']>[0];
type MetadataTargets = Parameters<Reflector['getAllAndOverride']>[1];

/**
 * A Reflector that reads each (key, handler, class) once: decorators set route metadata when
 * classes are defined, so it cannot change while the app runs, and the guard asks on every request.
 */
export class RouteMetadataCache extends Reflector {
  private readonly cache = new WeakMap<object, WeakMap<object, Map<MetadataKey, unknown>>>();

  override getAllAndOverride<T = unknown>(key: MetadataKey, targets: MetadataTargets): T {
    const [handler, cls] = targets;
    if (targets.length !== 2 || !handler || !cls) return super.getAllAndOverride(key as string, targets) as T;
    let byClass = this.cache.get(handler);
    if (!byClass) this.cache.set(handler, (byClass = new WeakMap()));
    let byKey = byClass.get(cls);
    if (!byKey) byClass.set(cls, (byKey = new Map()));
    if (!byKey.has(key)) byKey.set(key, super.getAllAndOverride(key as string, targets));
    return byKey.get(key) as T;
  }
}

/** The parts of a Fastify request the limiter reads; `apiKey` is set by the auth guard. */
interface TrackedRequest {
  ip?: string;
  apiKey?: { name?: unknown };
}

/**
 * The authenticated API key when the auth guard has set one, else the client IP as Fastify derived
 * it (the socket address unless `trustProxy` is configured; X-Forwarded-For is never read here).
 * IPv6 addresses count per /64, the block one host usually controls.
 */
export function trackerOf(request: TrackedRequest): Tracker {
  const name = request.apiKey?.name;
  if (typeof name === 'string' && name !== '') return { kind: 'key', name };
  const ip = typeof request.ip === 'string' && request.ip !== '' ? normalizeIp(request.ip, 64) : 'unknown';
  return { kind: 'ip', name: ip };
}

/**
 * @nestjs/throttler's guard, per client instead of per route: one budget per API key (or IP) across
 * all limited routes, charged by each request's cost, with the IETF RateLimit headers on every
 * limited response (the 429 included) and a `RATE_LIMITED` error (Retry-After) when the budget is
 * spent. Must run after the auth guard so that authenticated requests count against their key.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private readonly costLogger = new Logger('RateLimit');

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    private readonly limiter: RateLimitService,
  ) {
    // @nestjs/throttler reads seven metadata keys per request; route metadata is fixed at boot.
    super(options, storage, new RouteMetadataCache());
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    return this.reflector.getAllAndOverride<boolean>(SKIP_RATE_LIMIT, [context.getHandler(), context.getClass()]) === true;
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler } = props;
    const { req, res } = this.getRequestResponse(context);
    const cost = this.costOf(declaredCost(context.getHandler(), context.getClass()), req as CostRequest);
    await this.charge(req, res as { header(name: string, value: string): unknown }, cost, { name: throttler.name, limit, ttl });
    return true;
  }

  /**
   * Charges `cost` units to the request's client (its API key, else its IP) under the policy, sets
   * the RateLimit headers and throws `RATE_LIMITED` when the budget is spent. What the guard does
   * for each request; a route Fastify serves directly calls it itself (after authentication).
   */
  async charge(
    req: Record<string, unknown>,
    res: { header(name: string, value: string): unknown },
    cost: number,
    policy: { name?: string; limit: number; ttl: number } = { limit: this.limiter.limit, ttl: this.limiter.windowSeconds * 1000 },
  ): Promise<void> {
    const { limit, ttl } = policy;
    const tracker = trackerOf(req as TrackedRequest);
    const name = policy.name ?? this.limiter.policyName;
    // Per client, not per route (`<policy>:<key|ip>:<name>`): every limited route draws on the same budget.
    const key = `${name}:${tracker.kind}:${tracker.name}`;
    // The request's Redis budget, created here (the first Redis call of a gateway request) and
    // shared with its later Redis calls (the prediction cache) through the request object.
    const budget = this.limiter.redisBudgetMs === undefined ? undefined : redisBudgetOf(req, this.limiter.redisBudgetMs);
    const result = await this.limiter.consume(key, cost, limit, ttl, budget);

    const windowSeconds = Math.ceil(ttl / 1000);
    const resetSeconds = secondsUntilReset(result.resetMs);
    const remaining = Math.max(0, limit - result.count);
    res.header('RateLimit-Policy', policyHeader(name, limit, windowSeconds));
    res.header('RateLimit', rateLimitHeader(name, remaining, resetSeconds));
    if (result.allowed) return;

    const retryAfterSeconds = Math.max(1, resetSeconds);
    this.limiter.notifyRejected({ ...tracker, cost, limit, remaining, retryAfterSeconds });
    throw new RateLimitedError(tracker, limit, windowSeconds, cost, retryAfterSeconds);
  }

  /** What a request costs under a `@RateLimitCost` declaration (a number or a function; none = 1). */
  costOf(declared: number | RateLimitCostFn | undefined, request: CostRequest): number {
    if (typeof declared !== 'function') return normaliseCost(declared);
    try {
      return normaliseCost(declared(request));
    } catch (error) {
      // A body the cost function cannot read is a bad request; validation reports it after this guard.
      this.costLogger.warn({ msg: 'rate-limit cost function threw; charging 1', err: error instanceof Error ? error.message : String(error) });
      return 1;
    }
  }
}
