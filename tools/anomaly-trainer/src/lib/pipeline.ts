import { createHash } from 'node:crypto';
import {
  FEATURE_NAMES,
  FEATURE_VERSION,
  TreeEnsemble,
  computeFeatures,
  type TreeEnsembleJson,
} from '@ml/anomaly-features';
import { Dataset, replay } from './dataset';
import { DEFAULT_PARAMS, trainGbdt, type GbdtParams } from './gbdt';
import {
  atThreshold,
  averagePrecision,
  bestF1,
  rocAuc,
  sweep,
} from './metrics';
import { toOnnx } from './onnx.export';
import type { OnnxScorer } from './onnx.runtime';
import {
  SCENARIOS,
  SHIFTED_CONFIG,
  TRAINING_CONFIG,
  type SimConfig,
} from './sim.config';
import { Rng } from './sim.random';

export interface PipelineOptions {
  readonly version: string;
  readonly trainConfig: SimConfig;
  readonly shiftedConfig: SimConfig;
  /** Days of the observed period used for training, then for validation; the rest is the held-out test. */
  readonly trainDays: number;
  readonly validDays: number;
  /** Share of legitimate training rows kept (the rest is down-sampled; kept rows are re-weighted). */
  readonly negativeRate: number;
  /** Share of training rows also added scored without a profile (new customer / store down). */
  readonly dropProfileRate: number;
  /** Parity tolerance between onnxruntime and the TS ensemble. */
  readonly parityTolerance: number;
  readonly params: GbdtParams;
  readonly scoreOnnx: OnnxScorer;
  readonly log?: (message: string) => void;
}

export const DEFAULT_PIPELINE: Omit<PipelineOptions, 'scoreOnnx'> = {
  version: '1.0.0',
  trainConfig: TRAINING_CONFIG,
  shiftedConfig: SHIFTED_CONFIG,
  trainDays: 72,
  validDays: 24,
  negativeRate: 0.35,
  dropProfileRate: 0.1,
  parityTolerance: 1e-5,
  params: DEFAULT_PARAMS,
};

export interface Artifacts {
  readonly onnx: Uint8Array;
  readonly treesJson: string;
  readonly manifestJson: string;
  readonly model: TreeEnsembleJson;
  readonly manifest: Manifest;
}

export type Manifest = Record<string, unknown> & {
  threshold: number;
  sha256: string;
};

const r4 = (v: number): number => Math.round(v * 1e4) / 1e4;

function scoresOf(model: TreeEnsemble, d: Dataset): Float64Array {
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = model.predict(d.row(i));
  return out;
}

function summarize(d: Dataset): Record<string, unknown> {
  const byScenario: Record<string, number> = {};
  for (let i = 0; i < d.length; i++) {
    if (d.scenario[i] >= 0)
      byScenario[SCENARIOS[d.scenario[i]]] =
        (byScenario[SCENARIOS[d.scenario[i]]] ?? 0) + 1;
  }
  return {
    rows: d.length,
    fraud: d.positives(),
    fraud_by_scenario: byScenario,
  };
}

/** Share of each fraud scenario's rows scored at or above `threshold` (scenarios present only). */
export function recallByScenario(scores: ArrayLike<number>, d: Dataset, threshold: number): Record<string, number> {
  const recallBy: Record<string, number> = {};
  for (let s = 0; s < SCENARIOS.length; s++) {
    let total = 0;
    let hit = 0;
    for (let i = 0; i < d.length; i++) {
      if (d.scenario[i] === s) {
        total++;
        if (scores[i] >= threshold) hit++;
      }
    }
    if (total > 0) recallBy[SCENARIOS[s]] = r4(hit / total);
  }
  return recallBy;
}

/** Ranking quality, the operating point at `threshold`, and recall per fraud scenario. */
export function evaluate(
  scores: ArrayLike<number>,
  d: Dataset,
  threshold: number,
): Record<string, unknown> {
  const y = d.y.subarray(0, d.length);
  const at = atThreshold(scores, y, threshold);
  const recallBy = recallByScenario(scores, d, threshold);
  return {
    rows: d.length,
    fraud: at.tp + at.fn,
    roc_auc: r4(rocAuc(scores, y)),
    pr_auc: r4(averagePrecision(scores, y)),
    precision: r4(at.precision),
    recall: r4(at.recall),
    f1: r4(at.f1),
    alert_rate: r4(at.alertRate),
    true_positives: at.tp,
    false_positives: at.fp,
    recall_by_scenario: recallBy,
  };
}

function period(
  cfg: SimConfig,
  fromDay: number,
  toDay: number,
): { from: string; to: string } {
  const start = Date.parse(cfg.start);
  const iso = (d: number): string =>
    new Date(start + d * 86_400_000).toISOString().slice(0, 10);
  return { from: iso(fromDay), to: iso(toDay - 1) };
}

function configSummary(
  cfg: SimConfig,
  customers: number,
): Record<string, unknown> {
  return {
    name: cfg.name,
    seed: cfg.seed,
    customers,
    observed: period(cfg, 0, cfg.days),
    warmup_days: cfg.warmupDays,
    new_customer_share: cfg.newCustomerShare,
    countries: cfg.countries,
    online_affinity: cfg.onlineAffinity,
    trips_per_year: cfg.tripsPerYear,
    fraud_episodes_per_customer_year: cfg.fraud.episodesPerYear,
    fraud_mix: cfg.fraud.mix,
    fraud_amount_scale: cfg.fraud.amountScale,
  };
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Simulates, replays through the feature lib, trains, picks the threshold on the validation
 * period, evaluates on the later held-out period and on the shifted population, exports
 * ONNX and checks it against the TS ensemble. Deterministic for the same options.
 */
export async function runPipeline(
  opts: PipelineOptions,
  customers?: { train?: number; shifted?: number },
): Promise<Artifacts> {
  const log = opts.log ?? (() => undefined);
  const trainCfg = opts.trainConfig;
  const nTrain = customers?.train ?? trainCfg.customers;
  const nShifted = customers?.shifted ?? opts.shiftedConfig.customers;
  const validEnd = opts.trainDays + opts.validDays;
  const train = new Dataset();
  const valid = new Dataset();
  const test = new Dataset();
  const testNoProfile = new Dataset();
  const rng = new Rng(trainCfg.seed, 0x5a3b1e);
  const negWeight = 1 / opts.negativeRate;
  let noProfileCopies = 0;

  let t0 = Date.now();
  const folded = replay(
    trainCfg,
    ({ t, day, vector }) => {
      if (day < opts.trainDays) {
        const keep = t.fraud || rng.chance(opts.negativeRate);
        if (!keep) return;
        const weight = t.fraud ? 1 : negWeight;
        train.push(vector, t, weight);
        if (rng.chance(opts.dropProfileRate)) {
          train.push(computeFeatures(undefined, t.tx).vector, t, weight);
          noProfileCopies++;
        }
      } else if (day < validEnd) {
        valid.push(vector, t);
      } else {
        test.push(vector, t);
        testNoProfile.push(computeFeatures(undefined, t.tx).vector, t);
      }
    },
    nTrain,
  );
  log(
    `simulated and replayed ${folded} transactions (${nTrain} customers) in ${Date.now() - t0} ms`,
  );
  log(
    `train ${train.length} rows (${train.positives()} fraud), valid ${valid.length} (${valid.positives()}), test ${test.length} (${test.positives()})`,
  );

  t0 = Date.now();
  const result = trainGbdt(
    train,
    { featureNames: FEATURE_NAMES, featureVersion: FEATURE_VERSION },
    opts.params,
    valid,
  );
  const ensemble = TreeEnsemble.fromJSON(result.model);
  log(
    `trained ${opts.params.maxTrees} trees, kept ${result.bestTrees} (lowest validation log loss) in ${Date.now() - t0} ms`,
  );

  const validScores = scoresOf(ensemble, valid);
  const best = bestF1(validScores, valid.y.subarray(0, valid.length));
  const threshold = Number(best.threshold.toFixed(6));
  const testScores = scoresOf(ensemble, test);

  t0 = Date.now();
  const shifted = new Dataset();
  const shiftedNoProfile = new Dataset();
  const shiftedFolded = replay(
    opts.shiftedConfig,
    ({ t, vector }) => {
      shifted.push(vector, t);
      shiftedNoProfile.push(computeFeatures(undefined, t.tx).vector, t);
    },
    nShifted,
  );
  log(
    `shifted population: ${shiftedFolded} transactions, ${shifted.length} scored rows in ${Date.now() - t0} ms`,
  );
  const shiftedScores = scoresOf(ensemble, shifted);

  const onnxBytes = toOnnx(result.model, {
    modelVersion: opts.version,
    producerVersion: opts.version,
    docString:
      'Card transaction anomaly score: gradient-boosted trees over anomaly-features, sigmoid output.',
  });
  const onnxScores = await opts.scoreOnnx(
    onnxBytes,
    test.x,
    test.length,
    test.featureCount,
  );
  let maxDiff = 0;
  for (let i = 0; i < test.length; i++)
    maxDiff = Math.max(maxDiff, Math.abs(onnxScores[i] - testScores[i]));
  log(
    `onnxruntime vs TS ensemble on ${test.length} rows: max |diff| ${maxDiff.toExponential(2)}`,
  );
  if (!(maxDiff <= opts.parityTolerance)) {
    throw new Error(
      `ONNX parity failed: max |diff| ${maxDiff} > ${opts.parityTolerance}`,
    );
  }

  const treesJson = `${JSON.stringify(result.model)}\n`;
  const validStats = sweep(validScores, valid.y.subarray(0, valid.length));
  const operatingPoints = [0.5, 0.7, 0.8, 0.9, 0.95].map((minPrecision) => {
    let pick = validStats[0];
    for (const s of validStats)
      if (s.precision >= minPrecision && s.recall > pick.recall) pick = s;
    return {
      min_precision: minPrecision,
      threshold: Number(pick.threshold.toFixed(6)),
      precision: r4(pick.precision),
      recall: r4(pick.recall),
    };
  });

  const manifest: Manifest = {
    name: 'anomaly-detector',
    version: opts.version,
    task: 'binary classification of card transactions: score = probability the transaction is fraudulent, given the customer history and the population',
    framework: 'onnx',
    files: { model: 'model.onnx', contributions: 'trees.json' },
    sha256: sha256(onnxBytes),
    trees_sha256: sha256(treesJson),
    opset: { 'ai.onnx': 17, 'ai.onnx.ml': 3 },
    inputs: [
      {
        name: 'features',
        dtype: 'float32',
        shape: ['N', FEATURE_NAMES.length],
        meaning:
          'computeFeatures(profile, tx).vector from @ml/anomaly-features, one row per transaction',
      },
    ],
    outputs: [
      {
        name: 'score',
        dtype: 'float32',
        shape: ['N', 1],
        meaning: 'fraud probability in (0, 1); is_anomaly = score >= threshold',
      },
    ],
    feature_version: FEATURE_VERSION,
    feature_names: [...FEATURE_NAMES],
    threshold,
    threshold_selection: {
      method:
        'maximum F1 on the validation period (scores >= threshold are anomalies)',
      period: period(trainCfg, opts.trainDays, validEnd),
      precision: r4(best.precision),
      recall: r4(best.recall),
      f1: r4(best.f1),
      operating_points: operatingPoints,
    },
    contributions: {
      method:
        'Saabas path attribution over trees.json: every split on the decision path credits its feature with (child value - node value); bias + sum(contributions) = logit(score)',
      units: 'logit',
      format: result.model.format,
    },
    evaluation: {
      held_out: {
        description:
          'later period of the training population, never used for fitting or threshold choice',
        period: period(trainCfg, validEnd, trainCfg.days),
        ...evaluate(testScores, test, threshold),
        without_profile: {
          roc_auc: r4(
            rocAuc(
              scoresOf(ensemble, testNoProfile),
              test.y.subarray(0, test.length),
            ),
          ),
          pr_auc: r4(
            averagePrecision(
              scoresOf(ensemble, testNoProfile),
              test.y.subarray(0, test.length),
            ),
          ),
        },
      },
      shifted_population: {
        description:
          'second simulator configuration (other countries, habits, fraud mix and amounts); training never saw it',
        period: period(opts.shiftedConfig, 0, opts.shiftedConfig.days),
        ...evaluate(shiftedScores, shifted, threshold),
        without_profile: {
          roc_auc: r4(
            rocAuc(
              scoresOf(ensemble, shiftedNoProfile),
              shifted.y.subarray(0, shifted.length),
            ),
          ),
          pr_auc: r4(
            averagePrecision(
              scoresOf(ensemble, shiftedNoProfile),
              shifted.y.subarray(0, shifted.length),
            ),
          ),
        },
      },
    },
    training: {
      data: 'tools/anomaly-trainer simulator (seeded, deterministic); features replayed per customer in arrival order, scored before folding',
      simulator: configSummary(trainCfg, nTrain),
      shifted_simulator: configSummary(opts.shiftedConfig, nShifted),
      splits: {
        train: {
          period: period(trainCfg, 0, opts.trainDays),
          ...summarize(train),
        },
        validation: {
          period: period(trainCfg, opts.trainDays, validEnd),
          ...summarize(valid),
        },
        test: {
          period: period(trainCfg, validEnd, trainCfg.days),
          ...summarize(test),
        },
      },
      sampling: {
        legitimate_rows_kept: opts.negativeRate,
        legitimate_row_weight: r4(negWeight),
        rows_duplicated_without_profile: opts.dropProfileRate,
        train_rows_without_profile: noProfileCopies,
      },
      algorithm:
        'gradient-boosted regression trees, logistic loss, Newton leaf values, histogram splits (tools/anomaly-trainer/src/lib/gbdt.ts)',
      params: opts.params,
      trees: result.bestTrees,
      train_log_loss: r4(result.trainLoss[result.bestTrees - 1]),
      validation_log_loss: r4(result.validLoss[result.bestTrees - 1]),
    },
    onnx_parity: {
      runtime: 'onnxruntime-node',
      rows: test.length,
      tolerance: opts.parityTolerance,
    },
  };
  return {
    onnx: onnxBytes,
    treesJson,
    manifestJson: `${JSON.stringify(manifest, null, 2)}\n`,
    model: result.model,
    manifest,
  };
}
