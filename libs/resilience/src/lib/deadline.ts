import { systemClock } from './resilience.clock';
import type { Clock } from './resilience.types';

/** A point in time by which a logical call (all its retries included) must finish. Immutable. */
export class Deadline {
  private constructor(
    /** Absolute time on `clock`, in milliseconds. */
    readonly at: number,
    private readonly clock: Clock,
  ) {}

  /** A deadline `ms` from now. */
  static after(ms: number, clock: Clock = systemClock): Deadline {
    if (!(ms >= 0)) throw new RangeError(`Deadline.after: ms must be >= 0, got ${ms}`);
    return new Deadline(clock.now() + ms, clock);
  }

  /** A deadline at an absolute time read from the same `clock`. */
  static at(time: number, clock: Clock = systemClock): Deadline {
    if (Number.isNaN(time)) throw new RangeError('Deadline.at: time must be a number');
    return new Deadline(time, clock);
  }

  /** Milliseconds left, never negative. */
  remainingMs(): number {
    return Math.max(0, this.at - this.clock.now());
  }

  get expired(): boolean {
    return this.clock.now() >= this.at;
  }

  /** The earlier of this deadline and `ms` from now (e.g. to cap one hop of a longer call). */
  within(ms: number): Deadline {
    const other = Deadline.after(ms, this.clock);
    return other.at < this.at ? other : this;
  }
}
