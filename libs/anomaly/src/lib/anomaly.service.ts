import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { TransactionInput } from '@ml/anomaly-features';
import type { AnomalyPrediction, TransactionRules } from '@ml/contracts';
import { LifecycleService } from '@ml/health';
import { loadInBackground, loadRunner, ModelNotReadyError, type InferenceConfig, type OnnxRunner } from '@ml/inference';
import { PredictionMetrics } from '@ml/metrics';
import { commandTimeoutOf, type RedisClient } from '@ml/redis';
import { performance } from 'node:perf_hooks';
import type { AnomalyConfig } from './anomaly.config';
import { ANOMALY_FILES, ANOMALY_OPTIONS, PROFILE_STORE } from './anomaly.constants';
import { AnomalyDetector } from './anomaly.detector';
import { AnomalyMetrics } from './anomaly.metrics';
import type { AnomalyModelFiles } from './anomaly.model';
import { KeyedLock } from './keyed.lock';
import type { ProfileStore } from './profile.store';
import { TransactionScorer } from './transaction.scorer';

export interface AnomalyOptions {
  inference: InferenceConfig;
  requestTimeoutMs: number;
  anomaly: AnomalyConfig;
  /** Shared Redis for customer history (owned by the caller); absent = in process memory. */
  redis?: RedisClient;
  /** Replaces the store built from `anomaly` and `redis`. */
  profileStore?: ProfileStore;
  /** Opens the ONNX sessions; default `loadRunner` from @ml/inference. */
  loadRunner?: (modelPath: string, workers: number, intraOpThreads: number) => Promise<OnnxRunner>;
  /** Called when the model cannot be loaded after boot; the default ends the process. */
  onLoadFailure?: (err: Error) => void;
}

/**
 * Owns the anomaly model's life and the scoring pipeline: the files were verified before the app
 * started; the sessions load and warm up after the server listens, and readiness opens only then.
 * Customer history state appears in readiness details without ever failing readiness.
 */
@Injectable()
export class AnomalyService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AnomalyService');
  private detector?: AnomalyDetector;
  private scorer?: TransactionScorer;
  private loading?: Promise<void>;
  private readonly locks = new KeyedLock();

  constructor(
    @Inject(ANOMALY_FILES) readonly files: AnomalyModelFiles,
    @Inject(ANOMALY_OPTIONS) private readonly options: AnomalyOptions,
    @Inject(PROFILE_STORE) readonly store: ProfileStore,
    private readonly metrics: PredictionMetrics,
    private readonly anomalyMetrics: AnomalyMetrics,
    lifecycle: LifecycleService,
  ) {
    lifecycle.addGate('model', () => this.ready);
    lifecycle.addInfo('profiles', () => store.status());
    const mode = store.mode;
    anomalyMetrics.storeDegraded.set({ store: mode }, store.status().degraded ? 1 : 0);
    store.onDegradedChange((d) => anomalyMetrics.storeDegraded.set({ store: mode }, d ? 1 : 0));
  }

  get ready() {
    return this.detector?.ready === true;
  }

  get requestTimeoutMs() {
    return this.options.requestTimeoutMs;
  }

  get transactionRules(): TransactionRules {
    return this.options.anomaly.transactionRules;
  }

  /** The loaded detector, or a 503 NOT_READY while it loads. */
  get(): AnomalyDetector {
    if (!this.detector?.ready) throw new ModelNotReadyError(this.files.name);
    return this.detector;
  }

  /** Scores validated transactions against their customers' history (see TransactionScorer). */
  score(txs: readonly TransactionInput[], budgetMs: number): Promise<AnomalyPrediction[]> {
    this.get();
    return (this.scorer as TransactionScorer).score(txs, budgetMs);
  }

  onApplicationBootstrap() {
    this.loading = loadInBackground(`${this.files.name}@${this.files.version}`, () => this.load(), this.logger, this.options.onLoadFailure);
  }

  /** Resolves once loading has finished (or failed). */
  whenLoaded(): Promise<void> {
    return this.loading ?? Promise.resolve();
  }

  async onApplicationShutdown() {
    await this.loading;
    await this.detector?.close();
    await this.store.close();
  }

  private async load() {
    const started = performance.now();
    const { inference } = this.options;
    const runner = await (this.options.loadRunner ?? loadRunner)(this.files.modelPath, inference.workers, inference.intraOpThreads);
    const detector = new AnomalyDetector(this.files, runner, inference);
    this.wireMetrics(detector);
    await detector.warmUp();
    // One Redis budget per request for its profile reads and writes: the client's command timeout
    // (REDIS_COMMAND_TIMEOUT_MS) bounds the whole request, not each call.
    const redisBudgetMs = this.store.mode === 'redis' ? (this.options.redis && commandTimeoutOf(this.options.redis)) : undefined;
    const scorer = new TransactionScorer({ store: this.store, model: detector, locks: this.locks, redisBudgetMs });
    scorer.onOutcome((o) => this.anomalyMetrics.record(detector.name, this.store.mode, o));
    this.scorer = scorer;
    this.detector = detector;
    this.logger.log({
      msg: `model ${this.files.name}@${this.files.version} loaded and warmed`,
      ms: Math.round(performance.now() - started),
      workers: inference.workers,
      maxBatchSize: inference.maxBatchSize,
      threshold: this.files.threshold,
      profiles: this.store.mode,
    });
  }

  private wireMetrics(detector: AnomalyDetector) {
    detector.onPrediction((e) => this.metrics.recordPrediction({ ...e, confidence: e.score }));
    detector.model.onBatch((b) => this.metrics.recordBatch(b));
  }
}
