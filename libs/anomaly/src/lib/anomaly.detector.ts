import type { FeatureSet, FeatureVector, TransactionInput, UserProfile } from '@ml/anomaly-features';
import type { AnomalyPrediction } from '@ml/contracts';
import { ModelLoadError, outcomeOf, ServedModel, type BatchingOptions, type OnnxRunner } from '@ml/inference';
import { performance } from 'node:perf_hooks';
import { anomalyAdapter, type AnomalyModelFiles } from './anomaly.model';

/** Outcome of one model run for one row, for whoever records metrics. */
export interface ModelEvent {
  model: string;
  status: 'success' | 'error' | 'rejected' | 'timeout';
  latencySeconds: number;
  score?: number;
}

/** onnxruntime and trees.json must agree this closely (the trainer checks 1e-5 on every row). */
const PARITY_TOLERANCE = 1e-4;
const SCORE_DECIMALS = 1e6;

/** Why a score was given without the customer's history, when no stronger reason says so already. */
export const POPULATION_ONLY = {
  newCustomer: 'new customer: scored on population features only',
  unavailable: 'customer history unavailable: scored on population features only',
} as const;

function warmupRows(features: FeatureSet): Float32Array[] {
  const tx = (id: string, amount: number, timestamp: string): TransactionInput => ({
    transaction_id: id,
    user_id: 'warmup',
    amount,
    currency: 'GBP',
    timestamp,
    merchant_category: 'grocery',
    channel: 'in_store',
    merchant_location: { lat: 51.5072, lon: -0.1276 },
    home_location: { lat: 51.5072, lon: -0.1276 },
  });
  let profile: UserProfile | undefined;
  for (let i = 0; i < 5; i++) profile = features.fold(profile, tx(`w${i}`, 20 + i, `2026-01-0${i + 1}T12:00:00Z`));
  return [
    features.compute(undefined, tx('w-new', 35, '2026-01-06T12:00:00Z')).vector,
    features.compute(profile, tx('w-known', 30, '2026-01-06T12:00:00Z')).vector,
    features.compute(profile, { ...tx('w-odd', 2000, '2026-01-06T03:00:00Z'), channel: 'online', merchant_category: 'shopping' }).vector,
  ];
}

/**
 * The anomaly model: scores from the ONNX graph (batched with everything else in flight), reasons
 * from the same trees' per-feature contributions.
 */
export class AnomalyDetector {
  readonly model: ServedModel<Float32Array, number>;
  private readonly listeners = new Set<(e: ModelEvent) => void>();
  private readonly warmup: Float32Array[];

  constructor(
    readonly files: AnomalyModelFiles,
    runner: OnnxRunner,
    batching: BatchingOptions,
  ) {
    this.warmup = warmupRows(files.features);
    const input = files.inputs[0].name;
    const output = files.outputs[0].name;
    for (const [name, names] of [
      [input, runner.inputNames],
      [output, runner.outputNames],
    ] as const) {
      if (!names.includes(name)) throw new ModelLoadError(`${files.modelPath} has no tensor "${name}" (has ${names.join(', ')})`);
    }
    this.model = new ServedModel(files, runner, anomalyAdapter(input, output, this.warmup, files.features.count), batching);
  }

  get name() {
    return this.model.name;
  }
  get version() {
    return this.model.version;
  }
  get ready() {
    return this.model.ready;
  }
  get threshold() {
    return this.files.threshold;
  }
  /** The feature set the model was trained on: the scorer computes and folds with it. */
  get features(): FeatureSet {
    return this.files.features;
  }

  /** Warms the sessions up, then checks onnxruntime and trees.json give the same scores. */
  async warmUp(): Promise<void> {
    await this.model.warmUp();
    const scores = await this.model.predict(this.warmup);
    scores.forEach((s, i) => {
      const expected = this.files.trees.predict(this.warmup[i]);
      if (!(Math.abs(s - expected) <= PARITY_TOLERANCE)) {
        void this.model.close();
        throw new ModelLoadError(`${this.files.modelPath} and ${this.files.treesPath} disagree (score ${s} vs ${expected}): they are not the same model`);
      }
    });
  }

  onPrediction(listener: (e: ModelEvent) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Raw scores (0..1) for feature rows, one per row. */
  async scores(rows: Float32Array[], budgetMs: number): Promise<number[]> {
    const started = performance.now();
    try {
      const out = await this.model.predict(rows, budgetMs);
      const seconds = (performance.now() - started) / 1000;
      for (const score of out) this.emit({ model: this.name, status: 'success', latencySeconds: seconds, score });
      return out;
    } catch (e) {
      const status = outcomeOf(e);
      const seconds = (performance.now() - started) / 1000;
      for (let i = 0; i < rows.length; i++) this.emit({ model: this.name, status, latencySeconds: seconds });
      throw e;
    }
  }

  /**
   * The answer for one scored transaction. `profile` is the history the features were computed
   * from (undefined: new customer, or the store was unavailable when `degraded`).
   */
  present(tx: TransactionInput, features: FeatureVector, profile: UserProfile | undefined, rawScore: number, degraded: boolean): AnomalyPrediction {
    // Rounded first, so that is_anomaly always agrees with the score shown next to the threshold.
    const score = Math.min(1, Math.max(0, Math.round(rawScore * SCORE_DECIMALS) / SCORE_DECIMALS));
    const { values } = this.files.trees.contributions(features.vector);
    const ranked = this.files.features.rankReasons(values, features, tx, profile, { degraded });
    const reasons = ranked.map((r) => r.sentence);
    const withoutHistory = !profile || profile.n === 0;
    if (withoutHistory && !ranked.some((r) => r.group === 'history')) {
      reasons.push(degraded ? POPULATION_ONLY.unavailable : POPULATION_ONLY.newCustomer);
    }
    return {
      transaction_id: tx.transaction_id,
      score,
      is_anomaly: score >= this.threshold,
      threshold: this.threshold,
      reasons,
      model: { name: this.name, version: this.version },
      degraded,
    };
  }

  close() {
    return this.model.close();
  }

  private emit(e: ModelEvent) {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // metrics must never fail a prediction
      }
    }
  }
}
