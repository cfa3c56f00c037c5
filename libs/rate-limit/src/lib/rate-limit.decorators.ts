import { SetMetadata } from '@nestjs/common';

export const SKIP_RATE_LIMIT = 'ml:rate-limit:skip';
export const RATE_LIMIT_COST = 'ml:rate-limit:cost';

/** What a cost function may read: the parsed request (the body is whatever the client sent). */
export interface CostRequest {
  body?: { readonly [field: string]: unknown } | null;
  query?: unknown;
  params?: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** Units a request costs; a fraction is rounded up, and anything below 1 (or not a number) counts as 1. */
export type RateLimitCostFn = (request: CostRequest) => number;

/** Leaves a route (or every route of a controller) out of rate limiting: health, metrics, docs. */
export const SkipRateLimit = () => SetMetadata(SKIP_RATE_LIMIT, true);

/**
 * Declares what a request to this route costs, as a number or a function of the request, e.g. a
 * batch costs as many units as it holds items: `@RateLimitCost(batchCost('queries', 'transactions'))`.
 */
export const RateLimitCost = (cost: number | RateLimitCostFn) => SetMetadata(RATE_LIMIT_COST, cost);

/** What `@RateLimitCost` declared for a route handler, else for its controller (none: undefined, i.e. 1 unit). */
export function declaredCost(handler: object, controller: object): number | RateLimitCostFn | undefined {
  return (Reflect.getMetadata(RATE_LIMIT_COST, handler) ?? Reflect.getMetadata(RATE_LIMIT_COST, controller)) as number | RateLimitCostFn | undefined;
}

/**
 * A cost function for batch routes: the length of the first of `fields` in the body that is an
 * array, else 1 (a malformed body still costs a request; validation rejects it afterwards).
 */
export function batchCost(...fields: string[]): RateLimitCostFn {
  return (request) => {
    for (const field of fields) {
      const value = request.body?.[field];
      if (Array.isArray(value)) return value.length;
    }
    return 1;
  };
}

/** A cost as a whole number of units, never below 1. */
export function normaliseCost(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 1 ? Math.ceil(value) : 1;
}
