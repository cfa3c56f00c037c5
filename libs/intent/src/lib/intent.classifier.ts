import type { IntentCandidate, IntentPrediction } from '@ml/contracts';
import { outcomeOf, ServedModel, type ModelAdapter, type ModelFiles, type OnnxRunner, type BatchingOptions } from '@ml/inference';
import { performance } from 'node:perf_hooks';

export const UNKNOWN_INTENT = 'unknown';
const TOP_K = 5;

/** Outcome of one prediction, for whoever records metrics. */
export interface PredictionEvent {
  model: string;
  status: 'success' | 'error' | 'rejected' | 'timeout';
  latencySeconds: number;
  confidence?: number;
  intent?: string;
}

/** Text in (`text`, BYTES [N]), probabilities out (`probabilities`, FP32 [N, labels]). */
export function intentAdapter(labelCount: number, inputName: string, outputName: string): ModelAdapter<string, Float32Array> {
  return {
    encode: (texts) => ({ [inputName]: { type: 'string', data: texts, dims: [texts.length] } }),
    decode: (outputs, count) => {
      const out = outputs[outputName];
      const data = out.data as Float32Array;
      if (data.length !== count * labelCount) {
        throw new Error(`model returned ${data.length} scores for ${count} texts x ${labelCount} labels`);
      }
      return Array.from({ length: count }, (_, i) => data.subarray(i * labelCount, (i + 1) * labelCount));
    },
    warmup: [
      "my new card still hasn't arrived",
      'how do I top up with a bank transfer?',
      'I think someone used my card details, there is a payment I did not make in Paris',
      'pin blocked',
    ],
  };
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * The intent model: scores from the ONNX graph, then the top candidates and the `unknown` answer
 * below the manifest's confidence threshold.
 */
export class IntentClassifier {
  readonly model: ServedModel<string, Float32Array>;
  readonly labels: readonly string[];
  readonly threshold: number;
  /** Indices of the manifest's `reject_labels`: classes of out-of-scope text, answered `unknown`. */
  readonly rejectClasses: ReadonlySet<number>;
  private readonly listeners = new Set<(e: PredictionEvent) => void>();

  constructor(files: ModelFiles, runner: OnnxRunner, batching: BatchingOptions) {
    const labels = files.manifest.labels;
    if (!Array.isArray(labels) || labels.length === 0) throw new Error(`${files.dir}/manifest.json has no labels`);
    this.labels = labels;
    this.threshold = typeof files.manifest.threshold === 'number' ? files.manifest.threshold : 0;
    this.rejectClasses = rejectClassesOf(files.manifest['reject_labels'], labels, files.dir);
    const input = files.manifest.inputs[0]?.name ?? runner.inputNames[0];
    const output = files.manifest.outputs[0]?.name ?? runner.outputNames[0];
    this.model = new ServedModel(files, runner, intentAdapter(labels.length, input, output), batching);
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

  onPrediction(listener: (e: PredictionEvent) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Raw probability rows, batched with everything else in flight. */
  async scores(texts: string[], budgetMs: number): Promise<Float32Array[]> {
    const started = performance.now();
    try {
      const rows = await this.model.predict(texts, budgetMs);
      const seconds = (performance.now() - started) / 1000;
      for (const row of rows) {
        const best = argmax(row);
        const intent = this.rejectClasses.has(best) ? UNKNOWN_INTENT : this.labels[best];
        this.emit({ model: this.name, status: 'success', latencySeconds: seconds, confidence: row[best], intent });
      }
      return rows;
    } catch (e) {
      const status = outcomeOf(e);
      const seconds = (performance.now() - started) / 1000;
      for (let i = 0; i < texts.length; i++) this.emit({ model: this.name, status, latencySeconds: seconds });
      throw e;
    }
  }

  async classify(texts: string[], budgetMs: number): Promise<IntentPrediction[]> {
    const rows = await this.scores(texts, budgetMs);
    return rows.map((row) => this.toPrediction(row));
  }

  /**
   * The top intents (reject classes never appear among them); `unknown` when a reject class is
   * the most probable of all, or the best intent's probability is below the threshold.
   */
  toPrediction(row: Float32Array): IntentPrediction {
    const top = topK(row, TOP_K, this.rejectClasses).map<IntentCandidate>((i) => ({ intent: this.labels[i], confidence: round(row[i]) }));
    const best = top[0];
    const rejected = this.rejectClasses.size > 0 && this.rejectClasses.has(argmax(row));
    return {
      intent: !rejected && best.confidence >= this.threshold ? best.intent : UNKNOWN_INTENT,
      confidence: best.confidence,
      top,
      model: { name: this.name, version: this.version },
    };
  }

  private emit(e: PredictionEvent) {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // metrics must never fail a prediction
      }
    }
  }
}

const NONE: ReadonlySet<number> = new Set();

/** Checks the manifest's `reject_labels` (optional) against its labels; a bad list fails the boot. */
export function rejectClassesOf(value: unknown, labels: readonly string[], dir: string): ReadonlySet<number> {
  if (value === undefined) return NONE;
  if (!Array.isArray(value) || value.some((l) => typeof l !== 'string' || !labels.includes(l))) {
    throw new Error(`${dir}/manifest.json: reject_labels must be a list of its labels`);
  }
  const classes = new Set(value.map((l: string) => labels.indexOf(l)));
  if (classes.size >= labels.length) throw new Error(`${dir}/manifest.json: every label is a reject label`);
  return classes;
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Indices of the k largest values, largest first (ties: lower index first), skipping `exclude`. */
export function topK(row: ArrayLike<number>, k: number, exclude: ReadonlySet<number> = NONE): number[] {
  const picked: number[] = [];
  for (let i = 0; i < row.length; i++) {
    if (exclude.has(i)) continue;
    const v = row[i];
    if (picked.length === k && v <= row[picked[k - 1]]) continue;
    let j = picked.length < k ? picked.length : k - 1;
    while (j > 0 && row[picked[j - 1]] < v) {
      picked[j] = picked[j - 1];
      j--;
    }
    picked[j] = i;
  }
  return picked;
}
