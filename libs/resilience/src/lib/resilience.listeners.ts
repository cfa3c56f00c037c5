import type { Listener, Unsubscribe } from './resilience.types';

/** A minimal typed event channel; each policy owns one per event kind. */
export class Listeners<E> {
  private readonly listeners = new Set<Listener<E>>();

  add(listener: Listener<E>): Unsubscribe {
    // Wrapped so the same function may subscribe twice and each unsubscribe removes only its own entry.
    const entry: Listener<E> = (event) => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  emit(event: E): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener is an observer (metrics, logs): its bug must never fail or alter the guarded call.
      }
    }
  }
}
