import type { Unsubscribe } from './cache.types';

type Listener<P> = (payload: P) => void;

/**
 * A minimal typed event hub. A listener that throws must not break the cache operation that
 * emitted the event (metrics are secondary to answering), so its error goes to `onListenerError`.
 */
export class Listeners<Events extends object> {
  private readonly byEvent = new Map<keyof Events, Set<Listener<never>>>();

  constructor(
    private readonly onListenerError: (
      error: unknown,
    ) => void = reportListenerError,
  ) {}

  on<E extends keyof Events>(
    event: E,
    listener: Listener<Events[E]>,
  ): Unsubscribe {
    let set = this.byEvent.get(event);
    if (!set) {
      set = new Set();
      this.byEvent.set(event, set);
    }
    // Wrap so the same function subscribed twice is called twice and unsubscribes separately.
    const entry: Listener<Events[E]> = (payload) => listener(payload);
    set.add(entry as Listener<never>);
    return () => {
      set.delete(entry as Listener<never>);
    };
  }

  emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    const set = this.byEvent.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[E]>)(payload);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  has(event: keyof Events): boolean {
    return (this.byEvent.get(event)?.size ?? 0) > 0;
  }
}

function reportListenerError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`a cache event listener threw: ${message}`, {
    type: 'CacheListenerError',
    detail: error instanceof Error ? error.stack : undefined,
  });
}
