import { performance } from 'node:perf_hooks';
import { DeadlineExceededError, QueueFullError } from './batching.errors';

export interface BatchSchedulerOptions<I, O> {
  /** Model name, for errors and events. */
  name: string;
  /** Most items in one run. */
  maxBatchSize: number;
  /**
   * How long the oldest queued item may wait for a fuller batch while a runner is free. 0 = run as
   * soon as a runner is free (batches then form only from what arrived while runs were busy).
   */
  maxQueueDelayMs: number;
  /** Most items waiting; beyond it submissions fail fast with {@link QueueFullError}. */
  maxQueueSize: number;
  /** Runs in flight at once (one per worker or session). */
  concurrency: number;
  /**
   * While a run is in flight, another starts only when at least this many items wait. Default 1:
   * any free runner starts at once. Set it to `maxBatchSize` and extra runners take only full
   * batches: a few waiting items then ride the next run instead of paying a run (and a thread
   * hand-off) of their own, while a deep queue (a batch request, a burst) still uses every runner.
   */
  parallelRunMinItems?: number;
  /** Runs a batch; must return one output per input, in order. */
  run: (inputs: I[]) => Promise<O[]>;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
}

export interface BatchEvent {
  model: string;
  size: number;
  /** Per item: ms between submission and the start of its run. */
  queueWaitMs: number[];
  runMs: number;
  ok: boolean;
}
export interface RejectEvent {
  model: string;
  reason: 'queue_full' | 'deadline';
  count: number;
}

interface Pending<I, O> {
  input: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
  enqueuedAt: number;
  deadline: number;
  timer?: ReturnType<typeof setTimeout>;
  done: boolean;
}

type Listener<E> = (e: E) => void;

/**
 * Adaptive micro-batching in front of a model. An idle model runs a request at once (on the next
 * turn of the event loop, so requests arriving together share a run); while runs are busy,
 * arrivals queue and go together in the next run, up to `maxBatchSize`. The queue is bounded and
 * each item's deadline removes it from the queue when it passes.
 */
export class BatchScheduler<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private live = 0;
  private running = 0;
  private pumpScheduled = false;
  private delayTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly now: () => number;
  private readonly batchListeners = new Set<Listener<BatchEvent>>();
  private readonly rejectListeners = new Set<Listener<RejectEvent>>();
  private closed = false;

  constructor(private readonly opts: BatchSchedulerOptions<I, O>) {
    if (opts.maxBatchSize < 1 || opts.concurrency < 1 || opts.maxQueueSize < 1) {
      throw new RangeError('maxBatchSize, concurrency and maxQueueSize must be at least 1');
    }
    this.now = opts.now ?? (() => performance.now());
  }

  /** Items waiting (not yet running). */
  get queued(): number {
    return this.live;
  }

  get inFlightRuns(): number {
    return this.running;
  }

  onBatch(listener: Listener<BatchEvent>): () => void {
    this.batchListeners.add(listener);
    return () => this.batchListeners.delete(listener);
  }

  onReject(listener: Listener<RejectEvent>): () => void {
    this.rejectListeners.add(listener);
    return () => this.rejectListeners.delete(listener);
  }

  /** Queues one input; `deadline` is an absolute time on this scheduler's clock. */
  submit(input: I, deadline = Infinity): Promise<O> {
    return this.submitAll([input], deadline)[0];
  }

  /**
   * Queues several inputs atomically: either all fit in the queue or none is queued (a batch
   * request is never half-accepted). Returns one promise per input.
   */
  submitAll(inputs: I[], deadline = Infinity): Promise<O>[] {
    if (this.closed || this.live + inputs.length > this.opts.maxQueueSize) {
      this.emitReject({ model: this.opts.name, reason: 'queue_full', count: inputs.length });
      const err = new QueueFullError(this.opts.name, this.live);
      return inputs.map(() => Promise.reject(err));
    }
    const at = this.now();
    const promises = inputs.map(
      (input) =>
        new Promise<O>((resolve, reject) => {
          const item: Pending<I, O> = { input, resolve, reject, enqueuedAt: at, deadline, done: false };
          if (Number.isFinite(deadline)) {
            item.timer = setTimeout(() => this.expire(item), Math.max(0, deadline - at));
          }
          this.queue.push(item);
          this.live++;
        }),
    );
    this.schedulePump();
    return promises;
  }

  /** Stops accepting work; queued items still run. */
  close() {
    this.closed = true;
  }

  private expire(item: Pending<I, O>) {
    if (item.done) return;
    item.done = true;
    this.live--;
    this.emitReject({ model: this.opts.name, reason: 'deadline', count: 1 });
    item.reject(new DeadlineExceededError(this.opts.name, this.now() - item.enqueuedAt));
  }

  private schedulePump() {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump() {
    while (this.running < this.opts.concurrency && this.live > 0) {
      this.dropSettledHead();
      const oldest = this.queue[0];
      if (!oldest) return;
      // A run is busy and too little waits to deserve a run of its own: it joins the next one.
      if (this.running > 0 && this.live < Math.min(this.opts.parallelRunMinItems ?? 1, this.opts.maxBatchSize)) return;
      const waited = this.now() - oldest.enqueuedAt;
      if (this.live < this.opts.maxBatchSize && waited < this.opts.maxQueueDelayMs) {
        // Wait a little for a fuller batch, but never past the oldest item's delay budget.
        if (!this.delayTimer) {
          this.delayTimer = setTimeout(() => {
            this.delayTimer = undefined;
            this.pump();
          }, this.opts.maxQueueDelayMs - waited);
        }
        return;
      }
      this.dispatch(this.takeBatch());
    }
  }

  private dropSettledHead() {
    while (this.queue.length && this.queue[0].done) this.queue.shift();
  }

  private takeBatch(): Pending<I, O>[] {
    const batch: Pending<I, O>[] = [];
    while (batch.length < this.opts.maxBatchSize) {
      const item = this.queue.shift();
      if (!item) break;
      if (item.done) continue;
      item.done = true;
      if (item.timer) clearTimeout(item.timer);
      this.live--;
      batch.push(item);
    }
    return batch;
  }

  private dispatch(batch: Pending<I, O>[]) {
    if (batch.length === 0) return;
    if (this.delayTimer) {
      clearTimeout(this.delayTimer);
      this.delayTimer = undefined;
    }
    this.running++;
    const start = this.now();
    const queueWaitMs = batch.map((b) => start - b.enqueuedAt);
    const finish = (ok: boolean) => {
      this.running--;
      this.emitBatch({ model: this.opts.name, size: batch.length, queueWaitMs, runMs: this.now() - start, ok });
      if (this.live > 0) this.schedulePump();
    };
    let pending: Promise<O[]>;
    try {
      pending = this.opts.run(batch.map((b) => b.input));
    } catch (e) {
      pending = Promise.reject(e);
    }
    pending.then(
      (outputs) => {
        if (outputs.length !== batch.length) {
          const err = new Error(`${this.opts.name}: runner returned ${outputs.length} outputs for ${batch.length} inputs`);
          batch.forEach((b) => b.reject(err));
          finish(false);
          return;
        }
        batch.forEach((b, i) => b.resolve(outputs[i]));
        finish(true);
      },
      (err) => {
        batch.forEach((b) => b.reject(err));
        finish(false);
      },
    );
  }

  private emitBatch(e: BatchEvent) {
    for (const l of this.batchListeners) safeCall(l, e);
  }
  private emitReject(e: RejectEvent) {
    for (const l of this.rejectListeners) safeCall(l, e);
  }
}

function safeCall<E>(listener: Listener<E>, e: E) {
  try {
    listener(e);
  } catch {
    // A metrics bug must never fail a prediction.
  }
}
