import { TimeoutError, type TimeoutKind } from './resilience.errors';
import { MAX_TIMER_MS, onAbort, toContext } from './resilience.clock';
import type { CallContext, Operation, Policy } from './resilience.types';
import { positive } from './resilience.validate';

export interface TimeoutOptions {
  /** Time each attempt gets, further bounded by the context's deadline. Unset: the deadline alone bounds it. */
  perTryMs?: number;
}

/**
 * Gives each attempt its own AbortSignal that fires at min(perTryMs, deadline) or when the caller's
 * signal fires. On expiry the signal is aborted with a TimeoutError and the call rejects with it at
 * once, even if the work ignores the signal.
 */
export class TimeoutPolicy implements Policy {
  private readonly perTryMs: number;

  constructor(options: TimeoutOptions = {}) {
    this.perTryMs = options.perTryMs === undefined ? Infinity : positive('perTryMs', options.perTryMs);
  }

  execute<T>(fn: Operation<T>, ctx?: Partial<CallContext>): Promise<T> {
    const context = toContext(ctx);
    const parent = context.signal;
    if (parent.aborted) return Promise.reject(parent.reason);
    const remaining = context.deadline ? context.deadline.remainingMs() : Infinity;
    if (remaining <= 0) return Promise.reject(new TimeoutError(0, 'deadline'));
    const limitMs = Math.min(this.perTryMs, remaining);
    const kind: TimeoutKind = remaining <= this.perTryMs ? 'deadline' : 'per-try';

    const controller = new AbortController();
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = (done: () => void) => {
        clearTimeout(timer);
        detach();
        done();
      };
      const detach = onAbort(parent, () => {
        controller.abort(parent.reason);
        settle(() => reject(parent.reason));
      });
      // Beyond the timer range there is nothing useful to arm; the caller's signal still applies.
      if (limitMs <= MAX_TIMER_MS) {
        // Whole milliseconds, rounded up so a deadline never fires early.
        const timeoutMs = Math.ceil(limitMs);
        timer = setTimeout(() => {
          const error = new TimeoutError(timeoutMs, kind);
          controller.abort(error);
          settle(() => reject(error));
        }, timeoutMs);
      }
      // A promise settles once, so a result arriving after the timeout is dropped (and a late rejection is handled here).
      Promise.resolve()
        .then(() => fn({ ...context, signal: controller.signal }))
        .then(
          (value) => settle(() => resolve(value)),
          (error: unknown) => settle(() => reject(error)),
        );
    });
  }
}
