import type { CallContext, Clock } from './resilience.types';

/** performance.now(): monotonic, so wall-clock jumps cannot open breakers or stretch deadlines. */
export const systemClock: Clock = { now: () => performance.now() };

// Shared by calls that bring no signal; nothing ever aborts it, so no listener is ever attached to it
// (attaching one per call would trip Node's listener-leak warning).
const NEVER_ABORTED = new AbortController().signal;

/** Fills in the defaults so policies always see a signal and an attempt number. */
export function toContext(ctx?: Partial<CallContext>): CallContext {
  return { signal: ctx?.signal ?? NEVER_ABORTED, deadline: ctx?.deadline, attempt: ctx?.attempt ?? 1 };
}

/** setTimeout silently fires at once for delays beyond this (2^31 - 1 ms). */
export const MAX_TIMER_MS = 2_147_483_647;

/** Calls `onAbort` when the signal fires; returns the detach function. Never attaches to the shared never-aborted signal. */
export function onAbort(signal: AbortSignal, onAbortFn: () => void): () => void {
  if (signal === NEVER_ABORTED) return () => undefined;
  signal.addEventListener('abort', onAbortFn, { once: true });
  return () => signal.removeEventListener('abort', onAbortFn);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  // Node turns a 0 ms timer into 1 ms; a zero backoff means "retry now".
  if (ms <= 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      detach();
      resolve();
    }, Math.min(ms, MAX_TIMER_MS));
    const detach = onAbort(signal, () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
