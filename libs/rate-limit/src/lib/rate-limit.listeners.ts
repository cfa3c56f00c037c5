import { Logger } from '@nestjs/common';
import type { Unsubscribe } from './rate-limit.types';

/**
 * A set of listeners for one kind of event. A listener that throws must not fail the request that
 * emitted the event (metrics come second to answering), so its error is logged and dropped.
 */
export class Listeners<A extends unknown[]> {
  private readonly set = new Set<(...args: A) => void>();

  constructor(private readonly logger: Logger) {}

  add(listener: (...args: A) => void): Unsubscribe {
    // Wrapped so the same function added twice is called twice and removed separately.
    const entry = (...args: A) => listener(...args);
    this.set.add(entry);
    return () => {
      this.set.delete(entry);
    };
  }

  emit(...args: A): void {
    for (const listener of [...this.set]) {
      try {
        listener(...args);
      } catch (error) {
        this.logger.error({ msg: 'a rate-limit event listener threw', err: error });
      }
    }
  }
}
