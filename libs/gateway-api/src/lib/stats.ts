/** Fixed-size ring of recent values, for percentiles and distributions without unbounded memory. */
export class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  constructor(private readonly capacity: number) {}
  push(v: T) {
    if (this.items.length < this.capacity) this.items.push(v);
    else this.items[this.next] = v;
    this.next = (this.next + 1) % this.capacity;
  }
  values(): readonly T[] {
    return this.items;
  }
}

export type Outcome = 'success' | 'client_error' | 'rejected' | 'upstream_error' | 'timeout';

export const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

const r4 = (x: number) => Math.round(x * 10000) / 10000;

/** Per-model request statistics kept by the gateway for /monitoring. */
export class ModelStats {
  private readonly outcomes: Record<Outcome, number> = { success: 0, client_error: 0, rejected: 0, upstream_error: 0, timeout: 0 };
  private readonly latencies = new Ring<number>(2048);
  private readonly labels = new Ring<string>(1000);
  private readonly confidences = new Ring<number>(1000);
  private predictions = 0;

  record(outcome: Outcome, latencySeconds: number) {
    this.outcomes[outcome]++;
    this.latencies.push(latencySeconds);
  }

  /** One answered item (a batch records one per item): its label and confidence or score. */
  observe(label: string, confidence: number) {
    this.predictions++;
    this.labels.push(label);
    this.confidences.push(confidence);
  }

  health() {
    const total = Object.values(this.outcomes).reduce((a, b) => a + b, 0);
    const errors = this.outcomes.upstream_error + this.outcomes.timeout;
    const sorted = [...this.latencies.values()].sort((a, b) => a - b);
    const avg = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0;
    const status = total === 0 ? 'idle' : errors / total > 0.5 ? 'failing' : errors / total > 0.05 ? 'degraded' : 'healthy';
    return {
      status,
      request_count: total,
      prediction_count: this.predictions,
      error_rate: total ? r4(errors / total) : 0,
      avg_latency: r4(avg),
      p50: r4(percentile(sorted, 50)),
      p95: r4(percentile(sorted, 95)),
      p99: r4(percentile(sorted, 99)),
    };
  }

  statistics() {
    const distribution: Record<string, number> = {};
    for (const l of this.labels.values()) distribution[l] = (distribution[l] ?? 0) + 1;
    const histogram = Array.from({ length: 10 }, (_, i) => ({ bucket: `${(i / 10).toFixed(1)}-${((i + 1) / 10).toFixed(1)}`, count: 0 }));
    for (const c of this.confidences.values()) histogram[Math.min(9, Math.floor(c * 10))].count++;
    return {
      counts_by_outcome: { ...this.outcomes },
      predictions: this.predictions,
      recent: { window: this.labels.values().length, distribution },
      confidence_histogram: histogram,
    };
  }
}
