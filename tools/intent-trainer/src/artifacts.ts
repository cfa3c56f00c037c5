import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serializeManifest, type Manifest } from './manifest';
import type { SourceReport } from './sources';
import {
  trainIntentClassifier,
  type TrainedClassifier,
  type TrainOptions,
} from './trainer';

export interface WriteOptions extends TrainOptions {
  /** Folder that receives `<version>/model.onnx` and `<version>/manifest.json`. */
  outDir: string;
}

export interface WrittenModel extends TrainedClassifier {
  /** The model folder: `<outDir>/<version>`. */
  dir: string;
}

/** Trains and writes the model folder. */
export async function trainAndWrite(
  options: WriteOptions,
): Promise<WrittenModel> {
  const trained = await trainIntentClassifier(options);
  const dir = join(options.outDir, options.version);
  options.log?.(`writing ${dir}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), trained.model);
  writeFileSync(
    join(dir, 'manifest.json'),
    serializeManifest(trained.manifest),
  );
  return { ...trained, dir };
}

/** Text columns two spaces apart with a rule under the header; all-number columns are right-aligned. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const numeric = /^-?[\d.,]+%?$/;
  const widths = rows[0].map((_, c) =>
    Math.max(...rows.map((r) => (r[c] ?? '').length)),
  );
  const right = rows[0].map(
    (_, c) =>
      rows.length > 1 && rows.slice(1).every((r) => numeric.test(r[c] ?? '')),
  );
  const line = (r: readonly string[]): string =>
    widths
      .map((w, c) =>
        right[c] ? (r[c] ?? '').padStart(w) : (r[c] ?? '').padEnd(w),
      )
      .join('  ')
      .trimEnd();
  return [
    line(rows[0]),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.slice(1).map(line),
  ].join('\n');
}

/** The end-of-run summary: sources, split sizes, chosen C, validation scores, threshold, output. */
export function formatSummary(
  manifest: Manifest,
  sources: readonly SourceReport[],
  dir: string,
): string {
  const sourceRows = sources.map((s) => [
    s.name,
    s.license ?? '-',
    String(s.rows),
    String(s.kept),
    String(s.duplicates_dropped.within_source),
    String(s.duplicates_dropped.across_sources),
    String(s.duplicates_dropped.validation),
  ]);
  const v = manifest.evaluation.validation;
  const validationFrom = manifest.training.validation;
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  return [
    formatTable([
      [
        'source',
        'license',
        'rows',
        'kept',
        'dup within',
        'dup across',
        'dup validation',
      ],
      ...sourceRows,
    ]),
    '',
    formatTable([
      ['result', 'value'],
      ['labels', String(manifest.labels.length)],
      ['train examples', String(manifest.training.examples)],
      [
        'validation examples',
        `${v.examples}${
          validationFrom?.from === 'holdout'
            ? ` (hold-out ${validationFrom.fraction}, seed ${validationFrom.seed})`
            : ' (validation/)'
        }`,
      ],
      ['C', String(manifest.training.regularisation.c)],
      ['validation accuracy', pct(v.accuracy)],
      ['validation macro-F1', pct(v.macro_f1)],
      ['threshold', String(manifest.threshold)],
      ['unknown rate', pct(v.unknown_rate)],
      ...(manifest.evaluation.validation_with_typos
        ? [
            [
              'accuracy with typos',
              pct(manifest.evaluation.validation_with_typos.accuracy),
            ],
          ]
        : []),
      ...(manifest.evaluation.other_sets ?? []).map((set) => [
        `${set.name} ${set.out_of_scope ? 'answered unknown' : 'right'}`,
        pct(set.accuracy_with_threshold),
      ]),
      ['output', dir],
    ]),
  ].join('\n');
}
