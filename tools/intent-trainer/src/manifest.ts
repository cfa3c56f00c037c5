import type { ConfusionCount } from './metrics';
import type { SourceReport, SourcedDataset } from './sources';

/** manifest.json beside model.onnx: what the serving side needs, and how the model was made. */
export interface Manifest {
  name: string;
  version: string;
  task: 'text-classification';
  inputs: Array<{ name: string; datatype: 'BYTES'; shape: number[] }>;
  outputs: Array<{ name: string; datatype: 'FP32'; shape: number[] }>;
  labels: string[];
  /** Classes of the model the service answers as `unknown_label` (out of scope). */
  reject_labels?: string[];
  /** Training sources (only when trained with --source, --holdout or --labels-from-data). */
  sources?: SourceReport[];
  unknown_label: string;
  /** Answer `unknown_label` when the highest probability is below this. */
  threshold: number;
  preprocessing: string;
  training: {
    examples: number;
    /** Typo'd copies of the in-scope training examples trained on besides them. */
    augmentation?: {
      typo_copies: number;
      seeds: number[];
      edits_per_character: number;
    };
    per_label: Record<string, number>;
    /** The --holdout seed; 0 (unused) otherwise. */
    seed: number;
    /** Where the labels came from (only when trained from sources). */
    labels_from?: 'labels.txt' | 'data';
    /** Where validation came from (only when trained from sources). */
    validation?: SourcedDataset['validationFrom'];
    regularisation: {
      penalty: 'l2';
      c: number;
      selected_by: string;
      candidates: Array<{
        c: number;
        accuracy: number;
        macro_f1: number;
        iterations: number;
      }>;
    };
    features: {
      total: number;
      word_ngrams: number;
      char_ngrams: number;
      description: string;
    };
    optimiser: string;
  };
  evaluation: {
    validation: {
      examples: number;
      accuracy: number;
      macro_f1: number;
      accuracy_with_threshold: number;
      unknown_rate: number;
      /** Share of in-scope validation rows answered `unknown` (at most 2% by construction). */
      in_scope_unknown_rate?: number;
      per_label_f1?: Record<string, number | null>;
    };
    /** The validation split with seeded keyboard typos (see src/typos.ts). */
    validation_with_typos?: {
      seed: number;
      edits_per_character: number;
      accuracy: number;
      accuracy_with_threshold: number;
      unknown_rate: number;
    };
    /** --evaluate sets, scored with the final model and never trained on. */
    other_sets?: ExtraEvaluation[];
    confusion_hot_spots: ConfusionCount[];
  };
  sha256: string;
  created_by: 'tools/intent-trainer';
}

export interface ExtraEvaluation {
  name: string;
  file: string;
  sha256: string;
  examples: number;
  /** Every row has a reject label: `accuracy_with_threshold` is then the share answered unknown. */
  out_of_scope: boolean;
  /** Top-1 over all classes. */
  accuracy: number;
  /** Answered as the service would (label, or unknown for reject labels) and right. */
  accuracy_with_threshold: number;
  unknown_rate: number;
}

/** Pretty-printed with a trailing newline, keys in declaration order: stable bytes. */
export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Rounds metrics so the manifest is readable; the rounding is part of the deterministic output. */
export function round(value: number, decimals = 4): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}
