export interface LogThrottleOptions<T> {
  /** Length of a summary interval. Default 10 s. */
  intervalMs?: number;
  /** Keys tracked at once; past it, new keys are logged every time rather than remembered. Default 1000. */
  maxKeys?: number;
  /** Writes the summary of a key whose occurrences were held back during the last interval. */
  onSummary: (sample: T, suppressed: number, key: string) => void;
}

interface Entry<T> {
  sample: T;
  suppressed: number;
}

/**
 * Keeps a storm of identical log lines to one line at once and one summary per interval: the first
 * occurrence of a key is admitted (log it in full), later ones within the interval are counted, and
 * at the end of each interval that held any, `onSummary` gets the first occurrence's sample and the
 * count. A key with a quiet interval is forgotten, so its next occurrence is logged in full again.
 *
 * Why: an open breaker or a dead upstream fails every request the same way; one warn line per
 * request (70,000 of them in one incident) buries everything else and costs I/O when the service
 * is already struggling. The per-request access log is not throttled.
 */
export class LogThrottle<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: LogThrottleOptions<T>) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.maxKeys = options.maxKeys ?? 1000;
  }

  /** True when this occurrence should be logged now; false when it was counted for the summary. */
  admit(key: string, sample: T): boolean {
    const entry = this.entries.get(key);
    if (entry) {
      entry.suppressed++;
      return false;
    }
    if (this.entries.size >= this.maxKeys) return true;
    this.entries.set(key, { sample, suppressed: 0 });
    // Timers only while something is tracked: an idle throttle holds nothing open.
    this.timer ??= setInterval(() => this.flush(), this.intervalMs);
    this.timer.unref?.();
    return true;
  }

  /** Ends the current interval: summarises keys that held occurrences back, forgets quiet ones. */
  flush(): void {
    for (const [key, entry] of this.entries) {
      if (entry.suppressed === 0) {
        this.entries.delete(key);
        continue;
      }
      const suppressed = entry.suppressed;
      entry.suppressed = 0;
      try {
        this.options.onSummary(entry.sample, suppressed, key);
      } catch {
        // A failing log sink must not stop the other summaries.
      }
    }
    if (this.entries.size === 0) this.stop();
  }

  /** Writes what is pending and stops the timer (at shutdown). */
  close(): void {
    this.flush();
    this.entries.clear();
    this.stop();
  }

  /** Keys tracked now (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  private stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
