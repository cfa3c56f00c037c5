import type { Clock } from './resilience.types';

/**
 * Counters over a sliding time window, kept in `buckets` time slices so memory stays constant at any
 * call rate. Old slices drop out as time moves on; the window is therefore between
 * `windowMs - windowMs / buckets` and `windowMs` long.
 */
export class RollingWindow {
  private readonly bucketMs: number;
  private readonly counts: Float64Array[];
  /** Which slice (time / bucketMs) each ring slot currently holds. */
  private readonly slices: Float64Array;

  constructor(
    windowMs: number,
    private readonly buckets: number,
    fields: number,
    private readonly clock: Clock,
  ) {
    this.bucketMs = windowMs / buckets;
    this.counts = Array.from({ length: fields }, () => new Float64Array(buckets));
    this.slices = new Float64Array(buckets).fill(-Infinity);
  }

  add(field: number, n = 1): void {
    const slice = this.currentSlice();
    const slot = this.slotOf(slice);
    if (this.slices[slot] !== slice) {
      this.slices[slot] = slice;
      for (const c of this.counts) c[slot] = 0;
    }
    this.counts[field][slot] += n;
  }

  sum(field: number): number {
    const oldest = this.currentSlice() - this.buckets;
    const c = this.counts[field];
    let total = 0;
    for (let slot = 0; slot < this.buckets; slot++) if (this.slices[slot] > oldest) total += c[slot];
    return total;
  }

  reset(): void {
    this.slices.fill(-Infinity);
  }

  private currentSlice(): number {
    return Math.floor(this.clock.now() / this.bucketMs);
  }

  private slotOf(slice: number): number {
    // Clock values may be negative in tests; keep the slot index non-negative.
    return ((slice % this.buckets) + this.buckets) % this.buckets;
  }
}
