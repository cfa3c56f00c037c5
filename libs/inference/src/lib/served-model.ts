import { performance } from 'node:perf_hooks';
import { BatchScheduler, type BatchEvent, type RejectEvent } from '@ml/batching';
import type { ModelFiles } from './model.repository';
import { ModelNotReadyError } from './inference.errors';
import type { Feeds, OnnxRunner, Outputs } from './onnx.runner';

/** What a model app supplies: how its items become tensors and tensors become answers. */
export interface ModelAdapter<I, O> {
  encode(items: I[]): Feeds;
  decode(outputs: Outputs, count: number): O[];
  /** Inputs run once before readiness turns green (first runs allocate and are slow). */
  warmup: I[];
}

export interface BatchingOptions {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueueSize: number;
}

/**
 * A loaded, verified model behind an adaptive batch scheduler. Ready only after warm-up; closing
 * stops new work and releases the sessions.
 */
export class ServedModel<I, O> {
  private warmed = false;
  readonly scheduler: BatchScheduler<I, O>;

  constructor(
    readonly files: ModelFiles,
    private readonly runner: OnnxRunner,
    private readonly adapter: ModelAdapter<I, O>,
    batching: BatchingOptions,
  ) {
    this.scheduler = new BatchScheduler<I, O>({
      name: files.name,
      ...batching,
      concurrency: runner.concurrency,
      // While a run is in flight, another (on a second worker, or queued at a busy one) starts
      // only on a full batch: a few waiting queries ride the next run instead of paying a thread
      // hand-off each, while a batch request or a burst still keeps every worker busy.
      parallelRunMinItems: batching.maxBatchSize,
      run: (items) => this.runNow(items),
    });
  }

  get name() {
    return this.files.name;
  }
  get version() {
    return this.files.version;
  }
  get ready() {
    return this.warmed;
  }

  /** Runs the warm-up inputs (singly and as a batch) so the first real request is not the slow one. */
  async warmUp(): Promise<void> {
    for (const item of this.adapter.warmup) await this.runNow([item]);
    if (this.adapter.warmup.length > 1) await this.runNow(this.adapter.warmup);
    this.warmed = true;
  }

  /** Queues items for batched inference; rejects with QUEUE_FULL or DEADLINE_EXCEEDED. */
  predict(items: I[], deadlineMs = Infinity): Promise<O[]> {
    if (!this.warmed) return Promise.reject(new ModelNotReadyError(this.name));
    const deadline = Number.isFinite(deadlineMs) ? performance.now() + deadlineMs : Infinity;
    return Promise.all(this.scheduler.submitAll(items, deadline));
  }

  onBatch(l: (e: BatchEvent) => void) {
    return this.scheduler.onBatch(l);
  }
  onReject(l: (e: RejectEvent) => void) {
    return this.scheduler.onReject(l);
  }

  async close() {
    this.warmed = false;
    this.scheduler.close();
    await this.runner.close();
  }

  private async runNow(items: I[]): Promise<O[]> {
    const outputs = await this.runner.run(this.adapter.encode(items));
    return this.adapter.decode(outputs, items.length);
  }
}
