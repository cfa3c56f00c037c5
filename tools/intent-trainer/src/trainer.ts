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
import { round, type ExtraEvaluation, type Manifest } from './manifest';
import {
  accuracy,
  answeredUnknown,
  argmaxRow,
  confusionHotSpots,
  macroF1,
  perClassF1,
  serviceAnswers,
  serviceThreshold,
} from './metrics';
import { featurize, tokenize } from './onnx-features';
import { SoftmaxProblem } from './softmax-problem';
import { TYPO_RATE, typoCopy } from './typos';
import {
  loadSources,
  readSource,
  type LoadedSource,
  type SourceReport,
  type SourceSpec,
  type SourcedDataset,
} from './sources';

/** The featuriser chosen by validation experiments (see README.md). */
export const FEATURES: FeaturizerConfig = {
  // Letters and digits; apostrophes and hyphens split words, character n-grams rejoin them.
  wordPattern: '[\\p{L}\\p{N}]+',
  wordNgrams: { min: 1, max: 2 },
  charNgrams: { min: 2, max: 4 },
  minDocumentFrequency: { word: 2, char: 2 },
  // 20,000 in all: the dense [rows x features] tensor between the TfIdfVectorizers and MatMul
  // sets inference cost and memory; 80,000 ran about 3x slower and took the app to 269 MB (README).
  maxWordFeatures: 5000,
  maxFeatures: 20000,
  weighting: 'idf',
  wordBlockWeight: 0.35,
};

/** Regularisation candidates, fitted in this order, each warm-started from the previous solution. */
export const C_CANDIDATES = [10, 20, 40];
export const LBFGS = {
  memory: 10,
  maxIterations: 80,
  gradientTolerance: 1e-7,
  functionTolerance: 1e-6,
};
/** At most this share of in-scope validation examples may be answered `unknown`. */
export const MAX_UNKNOWN_RATE = 0.02;
/** ...and at most this share of them and their typo'd copies together. */
export const MAX_UNKNOWN_RATE_WITH_TYPOS = 0.01;
export const UNKNOWN_LABEL = 'unknown';
/** Seed of the typo'd copy of the validation split (evaluation only). */
export const TYPO_SEED = 12;
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
  /**
   * Validate on a stratified, seeded share of the training examples instead of validation/
   * (only of the sources named in `sources`, when given).
   */
  holdout?: { fraction: number; seed: number; sources?: string[] };
  /** Classes trained like the others that the service answers as `unknown` (out of scope). */
  rejectLabels?: string[];
  /** Further labelled sets scored with the final model and reported apart (never trained on). */
  evaluate?: SourceSpec[];
  /** Train also on this many typo'd copies of every training example (see src/typos.ts). */
  typoCopies?: number;
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
    options.holdout !== undefined ||
    (options.rejectLabels?.length ?? 0) > 0 ||
    (options.evaluate?.length ?? 0) > 0 ||
    (options.typoCopies ?? 0) > 0
  );
}

function readTrainingData(
  options: TrainOptions,
  evaluate: readonly LoadedSource[],
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
    rejectLabels: options.rejectLabels,
    exclude: evaluate.flatMap((s) => s.examples),
  });
  return { ...sourced, sourced };
}

export async function trainIntentClassifier(
  options: TrainOptions,
): Promise<TrainedClassifier> {
  const log = options.log ?? (() => undefined);
  const logEvery = Math.max(1, options.logEvery ?? 10);
  log('reading training data');
  const evaluateSets = (options.evaluate ?? []).map(readSource);
  const data = readTrainingData(options, evaluateSets);
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
  for (const source of evaluateSets) {
    // Checked before training, so a bad set does not cost a whole run.
    const bad = source.examples.find((e) => !labelIndex.has(e.label));
    if (bad)
      throw new DataFormatError(
        `${bad.source}: label "${bad.label}" of evaluation set "${source.name}" is not a class of the model`,
      );
  }
  const rejectClasses: ReadonlySet<number> = new Set(
    (options.rejectLabels ?? []).map((l) => labelIndex.get(l) as number),
  );
  const targets = (examples: readonly Example[]): Int32Array =>
    Int32Array.from(examples, (e) => labelIndex.get(e.label) as number);
  const texts = (examples: readonly Example[]): string[] =>
    examples.map((e) => e.text);

  // Typo'd copies of the in-scope training examples (seeds apart from the validation copy's).
  // Out-of-scope examples are not copied: typo'd copies taught the reject class that misspelt
  // text is out of scope, and it took typo'd banking queries.
  const copies = options.typoCopies ?? 0;
  const toCopy = data.train.filter(
    (e) => !rejectClasses.has(labelIndex.get(e.label) as number),
  );
  const training = [
    ...data.train,
    ...Array.from({ length: copies }, (_, c) =>
      typoCopy(toCopy, TYPO_SEED + 1 + c),
    ).flat(),
  ];
  if (copies > 0)
    log(
      `augmentation: ${copies} typo'd copies of the ${toCopy.length} in-scope training examples`,
    );
  log('vocabulary: tokenising the training texts');
  const vocabulary = buildVocabulary(
    await tokenize(texts(training), FEATURES),
    FEATURES,
  );
  log(
    `features: ${vocabulary.word.length} word + ${vocabulary.char.length} char n-grams; featurising`,
  );
  const xTrain = await featurize(texts(training), FEATURES, vocabulary);
  const xValidation = await featurize(
    texts(data.validation),
    FEATURES,
    vocabulary,
  );
  const yTrain = targets(training);
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
      const f1 = macroF1(yValidation, predicted, labels.length, rejectClasses);
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
  const rows = (matrix: Float64Array, picked: readonly number[]) => {
    const out = new Float64Array(picked.length * labels.length);
    picked.forEach((r, j) =>
      out.set(
        matrix.subarray(r * labels.length, (r + 1) * labels.length),
        j * labels.length,
      ),
    );
    return out;
  };
  log(
    `typo'd validation copy (seed ${TYPO_SEED}, about one edit per ${Math.round(1 / TYPO_RATE)} characters)`,
  );
  const typoTexts = typoCopy(data.validation, TYPO_SEED).map((e) => e.text);
  const typoProbabilities = predictProbabilities(
    final,
    await featurize(typoTexts, FEATURES, vocabulary),
  );
  const typoPredicted = Int32Array.from(yValidation, (_, i) =>
    argmaxRow(typoProbabilities, labels.length, i),
  );
  // The threshold is chosen on the in-scope validation rows (never trained on) and their typo'd
  // copies: the highest value leaving at most MAX_UNKNOWN_RATE of the clean rows and at most
  // MAX_UNKNOWN_RATE_WITH_TYPOS of clean and typo'd rows together unknown. Calibrated on clean
  // text alone, it sat where typo'd queries (less confident) fell below it in numbers: 2.3 points
  // of accuracy on typo'd queries for 0.3 points of out-of-scope rejection (README).
  const inScopeRows = Array.from(yValidation).flatMap((t, i) =>
    rejectClasses.has(t) ? [] : [i],
  );
  const cleanInScope = rows(probabilities, inScopeRows);
  const bothInScope = new Float64Array(2 * cleanInScope.length);
  bothInScope.set(cleanInScope);
  bothInScope.set(rows(typoProbabilities, inScopeRows), cleanInScope.length);
  const threshold = Math.min(
    serviceThreshold(
      serviceAnswers(cleanInScope, labels.length, rejectClasses),
      MAX_UNKNOWN_RATE,
    ),
    serviceThreshold(
      serviceAnswers(bothInScope, labels.length, rejectClasses),
      MAX_UNKNOWN_RATE_WITH_TYPOS,
    ),
  );
  /** Service-rule scores: a row is right when answered with its label, or `unknown` for a reject label. */
  const serviceScores = (p: Float64Array, truth: ArrayLike<number>) => {
    const answers = serviceAnswers(p, labels.length, rejectClasses);
    const unknown = answeredUnknown(answers, threshold);
    let correct = 0;
    let unknownCount = 0;
    for (let i = 0; i < truth.length; i++) {
      if (unknown[i]) unknownCount++;
      if (
        rejectClasses.has(truth[i])
          ? unknown[i]
          : !unknown[i] && answers.best[i] === truth[i]
      )
        correct++;
    }
    const n = Math.max(1, truth.length);
    return { correct: correct / n, unknown: unknownCount / n };
  };
  const validationScores = serviceScores(probabilities, yValidation);
  const inScopeUnknown = serviceScores(
    cleanInScope,
    inScopeRows.map((i) => yValidation[i]),
  ).unknown;

  const typoScores = serviceScores(typoProbabilities, yValidation);

  const extra: ExtraEvaluation[] = [];
  for (const source of evaluateSets) {
    const truth = targets(source.examples);
    const p = predictProbabilities(
      final,
      await featurize(texts(source.examples), FEATURES, vocabulary),
    );
    const scores = serviceScores(p, truth);
    const top1 = accuracy(
      truth,
      Int32Array.from(truth, (_, i) => argmaxRow(p, labels.length, i)),
    );
    extra.push({
      name: source.name,
      file: source.file,
      sha256: source.sha256,
      examples: source.examples.length,
      out_of_scope: source.examples.every((e) =>
        rejectClasses.has(labelIndex.get(e.label) as number),
      ),
      accuracy: round(top1),
      accuracy_with_threshold: round(scores.correct),
      unknown_rate: round(scores.unknown),
    });
    log(
      `  ${source.name}: ${source.examples.length} examples, answered right ${(scores.correct * 100).toFixed(2)}%, unknown ${(scores.unknown * 100).toFixed(2)}%`,
    );
  }

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
    ...(rejectClasses.size > 0
      ? { reject_labels: [...(options.rejectLabels ?? [])] }
      : {}),
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
      ...(copies > 0
        ? {
            augmentation: {
              typo_copies: copies,
              seeds: Array.from(
                { length: copies },
                (_, c) => TYPO_SEED + 1 + c,
              ),
              edits_per_character: round(TYPO_RATE),
            },
          }
        : {}),
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
        macro_f1: round(
          macroF1(yValidation, predicted, labels.length, rejectClasses),
        ),
        accuracy_with_threshold: round(validationScores.correct),
        unknown_rate: round(validationScores.unknown),
        ...(data.sourced
          ? {
              in_scope_unknown_rate: round(inScopeUnknown),
              // In-scope labels only: a reject class is never a validation label here.
              per_label_f1: Object.fromEntries(
                perClassF1(yValidation, predicted, labels.length).flatMap(
                  (f, k) =>
                    rejectClasses.has(k)
                      ? []
                      : [[labels[k], f === null ? null : round(f)]],
                ),
              ),
            }
          : {}),
      },
      ...(data.sourced
        ? {
            validation_with_typos: {
              seed: TYPO_SEED,
              edits_per_character: round(TYPO_RATE),
              accuracy: round(accuracy(yValidation, typoPredicted)),
              accuracy_with_threshold: round(typoScores.correct),
              unknown_rate: round(typoScores.unknown),
            },
            ...(extra.length > 0 ? { other_sets: extra } : {}),
          }
        : {}),
      confusion_hot_spots: confusionHotSpots(
        yValidation,
        predicted,
        labels,
        data.sourced ? 10 : 15,
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
