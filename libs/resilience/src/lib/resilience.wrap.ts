import { toContext } from './resilience.clock';
import type { CallContext, Operation, Policy } from './resilience.types';

/**
 * Composes policies, outermost first: `wrap(retry, breaker, timeout).execute(fn, { deadline })` runs
 * retry(breaker(timeout(fn))), so every attempt passes the breaker and gets its own per-try timeout
 * bounded by the overall deadline.
 */
export function wrap(...policies: Policy[]): Policy {
  return {
    execute<T>(fn: Operation<T>, ctx?: Partial<CallContext>): Promise<T> {
      const run = policies.reduceRight<Operation<T>>((inner, policy) => (c) => policy.execute(inner, c), fn);
      // Through an async step so a synchronous throw from the first policy or fn still rejects.
      return Promise.resolve().then(() => run(toContext(ctx)));
    },
  };
}
