import { createHash } from 'node:crypto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { encodeClassifier, INPUT_NAME, OUTPUT_NAME } from './classifier-graph';
import { countPerLabel, findUnknownLabels } from './data-checks';
import {
  DataFormatError,
  readDataset,
  type Dataset,
  type Example,
} from './dataset';
import { buildVocabulary, type FeaturizerConfig } from './featurizer';
import {
  fitSoftmax,
  predictProbabilities,
  toFloat32,
  type SoftmaxModel,
} from './logistic-regression';
import { round, type Manifest } from './manifest';
import {
  accuracy,
  argmaxRow,
  confidenceThreshold,
  confusionHotSpots,
  macroF1,
} from './metrics';
import { featurize, tokenize } from './onnx-features';
import { SoftmaxProblem } from './softmax-problem';
import {
  loadSources,
  type SourceReport,
  type SourceSpec,
  type SourcedDataset,
} from './sources';

/** The featuriser chosen by validation experiments (see README.md). */
export const FEATURES: FeaturizerConfig = {
  // Letters and digits; apostrophes and hyphens split words, character n-grams rejoin them.
  wordPattern: '[\\p{L}\\p{N}]+',
  wordNgrams: { min: 1, max: 2 },
  charNgrams: { min: 3, max: 5 },
  minDocumentFrequency: { word: 2, char: 2 },
  maxWordFeatures: 10000,
  maxFeatures: 20000,
  weighting: 'idf',
  wordBlockWeight: 0.35,
};

/** Regularisation candidates, fitted in this order, each warm-started from the previous solution. */
export const C_CANDIDATES = [50, 200, 800];
export const LBFGS = {
  memory: 10,
  maxIterations: 80,
  gradientTolerance: 1e-7,
  functionTolerance: 1e-6,
};
/** At most this share of validation examples may fall below the confidence threshold. */
export const MAX_UNKNOWN_RATE = 0.02;
export const UNKNOWN_LABEL = 'unknown';
/** No step draws random numbers; the seed is recorded for the manifest schema and changes nothing. */
export const SEED = 0;

export interface TrainOptions {
  dataDir: string;
  version: string;
  /** Progress lines (phases, optimiser iterations, C results). */
  log?: (message: string) => void;
  /** Log the loss every this many L-BFGS iterations (the last one is logged with the C result). */
  logEvery?: number;
  /** Training sources; without them (and without the two options below) the data folder's train/. */
  sources?: SourceSpec[];
  /** Take the labels from the training examples instead of `<dataDir>/labels.txt`. */
  labelsFromData?: boolean;
  /** Validate on a stratified, seeded share of the training examples instead of validation/. */
  holdout?: { fraction: number; seed: number };
}

export interface TrainedClassifier {
  model: Uint8Array;
  manifest: Manifest;
  /** Per source counts; for the data folder alone, one row for its train/. */
  sources: SourceReport[];
}

/** True when the options ask for anything beyond the data folder's own train/validation split. */
export function usesSources(options: TrainOptions): boolean {
  return (
    (options.sources?.length ?? 0) > 0 ||
    options.labelsFromData === true ||
    options.holdout !== undefined
  );
}

function readTrainingData(
  options: TrainOptions,
): Dataset & { sourced?: SourcedDataset } {
  if (!usesSources(options)) {
    // The data folder exactly as before: the shipped model is rebuilt byte for byte from it.
    const data = readDataset(options.dataDir);
    const unknown = findUnknownLabels(
      [...data.train, ...data.validation],
      data.labels,
    );
    if (unknown.length > 0) {
      throw new DataFormatError(
        `unknown label "${unknown[0].label}" at ${unknown[0].source}`,
      );
    }
    return data;
  }
  const sourced = loadSources({
    dataDir: options.dataDir,
    sources: options.sources,
    labelsFromData: options.labelsFromData,
    holdout: options.holdout,
    reservedLabel: UNKNOWN_LABEL,
  });
  return { ...sourced, sourced };
}

export async function trainIntentClassifier(
  options: TrainOptions,
): Promise<TrainedClassifier> {
  const log = options.log ?? (() => undefined);
  const logEvery = Math.max(1, options.logEvery ?? 10);
  log('reading training data');
  const data = readTrainingData(options);
  const { labels } = data;
  const sourceReports: SourceReport[] = data.sourced?.sources ?? [
    {
      name: 'train',
      license: null,
      file: 'train',
      format: 'tsv',
      sha256: '',
      rows: data.train.length,
      kept: data.train.length,
      duplicates_dropped: {
        within_source: 0,
        across_sources: 0,
        validation: 0,
      },
      label_conflicts: 0,
    },
  ];
  for (const s of data.sourced?.sources ?? []) {
    const d = s.duplicates_dropped;
    log(
      `  source ${s.name} (${s.file}): ${s.rows} rows, ${s.kept} kept, duplicates dropped ` +
        `${d.within_source} within, ${d.across_sources} across sources, ${d.validation} in validation`,
    );
  }
  log(
    `  ${labels.length} labels${data.sourced ? ` (from ${data.sourced.labelsFrom})` : ''}, ` +
      `${data.train.length} training and ${data.validation.length} validation examples`,
  );
  const perLabel = countPerLabel(data.train, labels);
  const empty = labels.filter((l) => perLabel.get(l) === 0);
  if (empty.length > 0)
    log(`  warning: no training examples for ${empty.join(', ')}`);
  if (data.train.length === 0 || data.validation.length === 0)
    throw new DataFormatError(
      `need training and validation examples (got ${data.train.length} and ${data.validation.length})`,
    );
  const labelIndex = new Map(labels.map((l, i) => [l, i]));
  const targets = (examples: readonly Example[]): Int32Array =>
    Int32Array.from(examples, (e) => labelIndex.get(e.label) as number);
  const texts = (examples: readonly Example[]): string[] =>
    examples.map((e) => e.text);

  log('vocabulary: tokenising the training texts');
  const vocabulary = buildVocabulary(
    await tokenize(texts(data.train), FEATURES),
    FEATURES,
  );
  log(
    `features: ${vocabulary.word.length} word + ${vocabulary.char.length} char n-grams; featurising`,
  );
  const xTrain = await featurize(texts(data.train), FEATURES, vocabulary);
  const xValidation = await featurize(
    texts(data.validation),
    FEATURES,
    vocabulary,
  );
  const yTrain = targets(data.train);
  const yValidation = targets(data.validation);

  const predict = (
    model: SoftmaxModel,
  ): { probabilities: Float64Array; predicted: Int32Array } => {
    const probabilities = predictProbabilities(model, xValidation);
    const predicted = Int32Array.from(yValidation, (_, i) =>
      argmaxRow(probabilities, labels.length, i),
    );
    return { probabilities, predicted };
  };

  const candidates: Manifest['training']['regularisation']['candidates'] = [];
  let best: { c: number; f1: number; model: SoftmaxModel } | undefined;
  let warmStart: SoftmaxModel | undefined;
  const problem = new SoftmaxProblem(xTrain, yTrain, labels.length);
  try {
    for (const c of C_CANDIDATES) {
      log(`fitting C=${c}`);
      const fit = fitSoftmax(problem, {
        ...LBFGS,
        c,
        warmStart,
        onIteration: (iteration, loss) => {
          if (iteration % logEvery === 0)
            log(`  C=${c} iteration ${iteration}: loss ${loss.toPrecision(6)}`);
        },
      });
      warmStart = fit.model;
      const { predicted } = predict(fit.model);
      const f1 = macroF1(yValidation, predicted, labels.length);
      const acc = accuracy(yValidation, predicted);
      candidates.push({
        c,
        accuracy: round(acc),
        macro_f1: round(f1),
        iterations: fit.iterations,
      });
      log(
        `C=${c}: ${fit.iterations} iterations, loss ${fit.loss.toPrecision(6)}, validation accuracy ${acc.toFixed(4)}, macro-F1 ${f1.toFixed(4)}`,
      );
      if (!best || f1 > best.f1) best = { c, f1, model: fit.model };
    }
  } finally {
    await problem.close();
  }
  if (!best) throw new Error('no regularisation candidates');

  log(`threshold: C=${best.c} selected; evaluating the float32 parameters`);
  // Evaluate the parameters exactly as stored (float32).
  const final = toFloat32(best.model);
  const { probabilities, predicted } = predict(final);
  const confidences = Float64Array.from(
    yValidation,
    (_, i) => probabilities[i * labels.length + predicted[i]],
  );
  const threshold = confidenceThreshold(confidences, MAX_UNKNOWN_RATE);
  let below = 0;
  let correctAbove = 0;
  confidences.forEach((conf, i) => {
    if (conf < threshold) below++;
    else if (predicted[i] === yValidation[i]) correctAbove++;
  });

  log('encoding the ONNX graph and checking it in onnxruntime');
  const model = encodeClassifier({
    config: FEATURES,
    vocabulary,
    model: final,
    labels,
    metadata: {
      name: 'intent-classifier',
      version: options.version,
      unknown_label: UNKNOWN_LABEL,
    },
    // Models from other sources are not Banking77 models (the default run keeps its doc string).
    description: data.sourced
      ? `intent classifier (${labels.length} labels from ${data.sourced.sources.map((x) => x.name).join(', ')}): ` +
        'text [N] -> probabilities [N, labels].'
      : undefined,
  });
  await checkAgainstRuntime(
    model,
    texts(data.validation),
    probabilities,
    labels.length,
  );

  const n = data.validation.length;
  const manifest: Manifest = {
    name: 'intent-classifier',
    version: options.version,
    task: 'text-classification',
    inputs: [{ name: INPUT_NAME, datatype: 'BYTES', shape: [-1] }],
    outputs: [
      { name: OUTPUT_NAME, datatype: 'FP32', shape: [-1, labels.length] },
    ],
    labels: [...labels],
    ...(data.sourced ? { sources: data.sourced.sources } : {}),
    unknown_label: UNKNOWN_LABEL,
    threshold,
    preprocessing:
      'inside the graph: StringNormalizer (lower case, locale C.UTF-8); com.microsoft Tokenizer words ' +
      `(${FEATURES.wordPattern}); TfIdfVectorizer word ${FEATURES.wordNgrams.min}-${FEATURES.wordNgrams.max}-grams; ` +
      `Tokenizer characters of each word framed by \\u0002/\\u0003 marks; TfIdfVectorizer character ` +
      `${FEATURES.charNgrams.min}-${FEATURES.charNgrams.max}-grams; ${describeWeighting(FEATURES)}; ` +
      'then MatMul W, Add b, Softmax. Callers send raw text.',
    training: {
      examples: data.train.length,
      per_label: Object.fromEntries(perLabel),
      seed:
        data.sourced?.validationFrom.from === 'holdout'
          ? data.sourced.validationFrom.seed
          : SEED,
      ...(data.sourced
        ? {
            labels_from: data.sourced.labelsFrom,
            validation: data.sourced.validationFrom,
          }
        : {}),
      regularisation: {
        penalty: 'l2',
        c: best.c,
        selected_by: 'highest validation macro-F1 (first candidate on ties)',
        candidates,
      },
      features: {
        total: vocabulary.word.length + vocabulary.char.length,
        word_ngrams: vocabulary.word.length,
        char_ngrams: vocabulary.char.length,
        description:
          `n-grams seen in >= ${FEATURES.minDocumentFrequency.word} (word) / ${FEATURES.minDocumentFrequency.char} ` +
          `(char) training texts, ranked by document frequency then code-unit order; at most ` +
          `${FEATURES.maxWordFeatures} word n-grams and ${FEATURES.maxFeatures} in total`,
      },
      optimiser:
        `multinomial logistic regression, full-batch L-BFGS (memory ${LBFGS.memory}, at most ` +
        `${LBFGS.maxIterations} iterations per candidate, warm-started along the C path) in Float64`,
    },
    evaluation: {
      validation: {
        examples: n,
        accuracy: round(accuracy(yValidation, predicted)),
        macro_f1: round(macroF1(yValidation, predicted, labels.length)),
        accuracy_with_threshold: round(correctAbove / n),
        unknown_rate: round(below / n),
      },
      confusion_hot_spots: confusionHotSpots(
        yValidation,
        predicted,
        labels,
        15,
      ),
    },
    sha256: createHash('sha256').update(model).digest('hex'),
    created_by: 'tools/intent-trainer',
  };
  return { model, manifest, sources: sourceReports };
}

function describeWeighting(config: FeaturizerConfig): string {
  const weight =
    config.weighting === 'idf'
      ? 'idf of each n-gram present'
      : config.weighting === 'tfidf'
        ? 'count x idf'
        : 'presence (1)';
  return (
    `each block weighted by ${weight}, L2-normalised (LpNormalization) and scaled ` +
    `(word ${config.wordBlockWeight}, char ${round(1 - config.wordBlockWeight)}), then concatenated`
  );
}

/**
 * Runs the encoded model in onnxruntime over the validation texts and fails when its answers
 * drift from the trainer's Float64 evaluation: a guard against a featuriser/graph mismatch.
 */
async function checkAgainstRuntime(
  model: Uint8Array,
  texts: readonly string[],
  expected: Float64Array,
  classes: number,
): Promise<void> {
  const session = await InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  try {
    let maxDiff = 0;
    for (let start = 0; start < texts.length; start += 256) {
      const batch = texts.slice(start, start + 256);
      const out = await session.run({
        [INPUT_NAME]: new Tensor('string', batch, [batch.length]),
      });
      const got = out[OUTPUT_NAME].data as Float32Array;
      for (let j = 0; j < got.length; j++)
        maxDiff = Math.max(
          maxDiff,
          Math.abs(got[j] - expected[start * classes + j]),
        );
    }
    if (!(maxDiff < 1e-4)) {
      throw new Error(
        `onnxruntime probabilities differ from the trainer's by ${maxDiff}`,
      );
    }
  } finally {
    await session.release();
  }
}
