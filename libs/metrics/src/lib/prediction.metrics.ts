import { Counter, Histogram, Registry } from 'prom-client';

export type PredictionStatus = 'success' | 'error' | 'rejected' | 'timeout' | 'invalid';

/**
 * The model-serving metrics of the contract. Inference code emits events; the app wires them to
 * these methods, so the inference lib knows nothing of Prometheus.
 */
export class PredictionMetrics {
  readonly total: Counter<'model' | 'status'>;
  readonly latency: Histogram<'model'>;
  readonly confidence: Histogram<'model'>;
  readonly invalidInput: Counter<'model' | 'error'>;
  readonly queueWait: Histogram<'model'>;
  readonly batchSize: Histogram<'model'>;
  readonly runDuration: Histogram<'model'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.total = new Counter({
      name: 'ml_prediction_total',
      help: 'Predictions by model and outcome',
      labelNames: ['model', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'ml_prediction_latency_seconds',
      help: 'Time from a prediction being queued to its result',
      labelNames: ['model'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.confidence = new Histogram({
      name: 'ml_prediction_confidence',
      help: 'Confidence (or score) of each prediction',
      labelNames: ['model'],
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
      registers,
    });
    this.invalidInput = new Counter({
      name: 'ml_invalid_input_total',
      help: 'Requests rejected by validation, by model and error kind',
      labelNames: ['model', 'error'],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'ml_inference_queue_wait_seconds',
      help: 'Time a request waited in the batching queue',
      labelNames: ['model'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'ml_inference_batch_size',
      help: 'Items per inference run',
      labelNames: ['model'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.runDuration = new Histogram({
      name: 'ml_inference_run_seconds',
      help: 'Duration of one inference run (a whole batch)',
      labelNames: ['model'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1],
      registers,
    });
  }

  /** One prediction's outcome; latency and confidence (or score) count for successes only. */
  recordPrediction(e: { model: string; status: Exclude<PredictionStatus, 'invalid'>; latencySeconds: number; confidence?: number }): void {
    this.total.inc({ model: e.model, status: e.status });
    if (e.status !== 'success') return;
    this.latency.observe({ model: e.model }, e.latencySeconds);
    if (e.confidence !== undefined) this.confidence.observe({ model: e.model }, e.confidence);
  }

  /** One inference run: its size, its duration and how long each of its items waited in the queue. */
  recordBatch(b: { model: string; size: number; runMs: number; queueWaitMs: readonly number[] }): void {
    this.batchSize.observe({ model: b.model }, b.size);
    this.runDuration.observe({ model: b.model }, b.runMs / 1000);
    for (const w of b.queueWaitMs) this.queueWait.observe({ model: b.model }, w / 1000);
  }
}
