import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { LifecycleService } from '@ml/health';
import { loadInBackground, loadRunner, ModelNotReadyError, type InferenceConfig, type ModelFiles } from '@ml/inference';
import { PredictionMetrics } from '@ml/metrics';
import { performance } from 'node:perf_hooks';
import { IntentClassifier } from './intent.classifier';
import { INTENT_FILES, INTENT_OPTIONS } from './intent.constants';

export interface IntentOptions {
  inference: InferenceConfig;
  requestTimeoutMs: number;
  /** Called when the model cannot be loaded after boot; the default ends the process. */
  onLoadFailure?: (err: Error) => void;
}

/**
 * Owns the intent model's life: the files were verified before the app started; the sessions load
 * and warm up after the server listens, and readiness opens only then.
 */
@Injectable()
export class IntentService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('IntentService');
  private classifier?: IntentClassifier;
  private loading?: Promise<void>;

  constructor(
    @Inject(INTENT_FILES) readonly files: ModelFiles,
    @Inject(INTENT_OPTIONS) private readonly options: IntentOptions,
    private readonly metrics: PredictionMetrics,
    lifecycle: LifecycleService,
  ) {
    lifecycle.addGate('model', () => this.ready);
  }

  get ready() {
    return this.classifier?.ready === true;
  }

  get requestTimeoutMs() {
    return this.options.requestTimeoutMs;
  }

  /** The loaded classifier, or a 503 NOT_READY while it loads. */
  get(): IntentClassifier {
    if (!this.classifier?.ready) throw new ModelNotReadyError(this.files.name);
    return this.classifier;
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
    await this.classifier?.model.close();
  }

  private async load() {
    const started = performance.now();
    const { inference } = this.options;
    const runner = await loadRunner(this.files.modelPath, inference.workers, inference.intraOpThreads);
    const classifier = new IntentClassifier(this.files, runner, inference);
    this.wireMetrics(classifier);
    await classifier.model.warmUp();
    this.classifier = classifier;
    this.logger.log({
      msg: `model ${this.files.name}@${this.files.version} loaded and warmed`,
      ms: Math.round(performance.now() - started),
      workers: inference.workers,
      maxBatchSize: inference.maxBatchSize,
    });
  }

  private wireMetrics(classifier: IntentClassifier) {
    classifier.onPrediction((e) => this.metrics.recordPrediction(e));
    classifier.model.onBatch((b) => this.metrics.recordBatch(b));
  }
}
