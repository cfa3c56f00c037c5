import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { readCsvExamples } from './csv';
import { normaliseForComparison } from './data-checks';
import {
  DataFormatError,
  parseTsv,
  readLabels,
  readSplit,
  tsvFiles,
  type Example,
} from './dataset';

/** A labelled source as given on the command line. */
export interface SourceSpec {
  /** A `.csv` file (text,category), a `.tsv` file or a folder of `.tsv` files (label<TAB>text). */
  path: string;
  /** Defaults to the file or folder name without extension. */
  name?: string;
  license?: string;
}

/** What the manifest records about one source (`sources[i]`). */
export interface SourceReport {
  name: string;
  /** As given with the source; null when none was given. */
  license: string | null;
  /** File or folder name (not the full path, so the manifest does not depend on the machine). */
  file: string;
  format: 'csv' | 'tsv';
  /**
   * sha256 of the file's bytes; for a folder, of the `sha256sum`-style listing of its `.tsv` files
   * (`<sha256>  <name>\n` per file in name order), i.e. `cd dir && sha256sum *.tsv | sha256sum`.
   */
  sha256: string;
  /** Examples read. */
  rows: number;
  /** Examples used for training or hold-out validation: rows minus everything dropped below. */
  kept: number;
  duplicates_dropped: {
    /** Same text (case and whitespace ignored) seen earlier in this source. */
    within_source: number;
    /** Same text seen in an earlier source. */
    across_sources: number;
    /** Same text as a validation example (validation from the data folder only). */
    validation: number;
  };
  /** Dropped duplicates whose label differed from the kept example's. */
  label_conflicts: number;
}

export interface LoadedSource {
  name: string;
  license: string | null;
  file: string;
  format: 'csv' | 'tsv';
  sha256: string;
  examples: Example[];
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads one source; labels are not checked here. */
export function readSource(spec: SourceSpec): LoadedSource {
  const file = basename(spec.path);
  let stat;
  try {
    stat = statSync(spec.path);
  } catch {
    throw new DataFormatError(`source ${spec.path}: no such file or folder`);
  }
  const name = spec.name ?? basename(file, extname(file));
  const license = spec.license ?? null;
  if (stat.isDirectory()) {
    const files = tsvFiles(spec.path);
    if (files.length === 0)
      throw new DataFormatError(
        `source ${spec.path}: no .tsv files in the folder`,
      );
    const listing = files
      .map((f) => `${sha256(readFileSync(join(spec.path, f)))}  ${f}\n`)
      .join('');
    const examples = files.flatMap((f) =>
      parseTsv(readFileSync(join(spec.path, f), 'utf8'), join(spec.path, f)),
    );
    return {
      name,
      license,
      file,
      format: 'tsv',
      sha256: sha256(listing),
      examples,
    };
  }
  const bytes = readFileSync(spec.path);
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') {
    return {
      name,
      license,
      file,
      format: 'csv',
      sha256: sha256(bytes),
      examples: readCsvExamples(spec.path),
    };
  }
  if (ext === '.tsv') {
    return {
      name,
      license,
      file,
      format: 'tsv',
      sha256: sha256(bytes),
      examples: parseTsv(bytes.toString('utf8'), spec.path),
    };
  }
  throw new DataFormatError(
    `source ${spec.path}: expected a .csv file, a .tsv file or a folder of .tsv files`,
  );
}

export interface MergedExample extends Example {
  /** Index of the source it came from. */
  from: number;
}

/**
 * Concatenates the sources in order, keeping the first example of every normalised text
 * (case and whitespace ignored) and dropping texts in `exclude` (normalised validation texts).
 */
export function mergeSources(
  sources: readonly LoadedSource[],
  exclude: ReadonlySet<string> = new Set(),
): { examples: MergedExample[]; reports: SourceReport[] } {
  const firstSeen = new Map<string, MergedExample>();
  const examples: MergedExample[] = [];
  const reports = sources.map((source, from): SourceReport => {
    const report: SourceReport = {
      name: source.name,
      license: source.license,
      file: source.file,
      format: source.format,
      sha256: source.sha256,
      rows: source.examples.length,
      kept: 0,
      duplicates_dropped: {
        within_source: 0,
        across_sources: 0,
        validation: 0,
      },
      label_conflicts: 0,
    };
    for (const example of source.examples) {
      const key = normaliseForComparison(example.text);
      if (exclude.has(key)) {
        report.duplicates_dropped.validation++;
        continue;
      }
      const earlier = firstSeen.get(key);
      if (earlier) {
        if (earlier.from === from) report.duplicates_dropped.within_source++;
        else report.duplicates_dropped.across_sources++;
        if (earlier.label !== example.label) report.label_conflicts++;
        continue;
      }
      const kept = { ...example, from };
      firstSeen.set(key, kept);
      examples.push(kept);
      report.kept++;
    }
    return report;
  });
  return { examples, reports };
}

/** Fails on the first example whose label is not in `labels`, naming its source and line. */
export function checkLabels(
  examples: readonly MergedExample[],
  sources: readonly { name: string }[],
  labels: readonly string[],
  labelsFile: string,
): void {
  const known = new Set(labels);
  const bad = examples.find((e) => !known.has(e.label));
  if (bad) {
    throw new DataFormatError(
      `${bad.source}: unknown label "${bad.label}" in source "${sources[bad.from].name}" ` +
        `(not in ${labelsFile}; pass --labels-from-data to take the labels from the training data)`,
    );
  }
}

/** The distinct labels of the examples in code-unit order (independent of source order). */
export function labelsFromData(
  examples: readonly Example[],
  reserved: string,
): string[] {
  const labels = [...new Set(examples.map((e) => e.label))].sort();
  const clash = examples.find((e) => e.label === reserved);
  if (clash)
    throw new DataFormatError(
      `${clash.source}: "${reserved}" is what the service answers below the threshold; it cannot be a label`,
    );
  if (labels.length < 2)
    throw new DataFormatError(
      `the training data has ${labels.length} label(s); a classifier needs at least 2`,
    );
  return labels;
}

/** mulberry32: a small 32-bit seeded PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over UTF-16 code units, starting from basis: mixes a label (or any text) into a seed. */
export function fnv1a(text: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** How many of a label's n examples go to validation: round(n * fraction), at least 1 and leaving at least 1 (n >= 2). */
export function holdoutCount(n: number, fraction: number): number {
  if (n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
}

/**
 * Stratified, seeded split. For each label, its examples are put in canonical order (normalised
 * text, then text, then source), shuffled by Fisher-Yates with mulberry32 seeded from the seed
 * and the label, and the first holdoutCount(n, fraction) go to validation. The choice depends on
 * the seed and the examples only, not on their order or on the other labels. Both parts keep the
 * input order.
 */
export function holdoutSplit<T extends Example>(
  examples: readonly T[],
  fraction: number,
  seed: number,
): { train: T[]; validation: T[] } {
  if (!(fraction > 0 && fraction < 1))
    throw new RangeError(
      `hold-out fraction must be between 0 and 1, got ${fraction}`,
    );
  const byLabel = new Map<string, T[]>();
  for (const e of examples) {
    const group = byLabel.get(e.label);
    if (group) group.push(e);
    else byLabel.set(e.label, [e]);
  }
  const held = new Set<T>();
  for (const [label, group] of byLabel) {
    const keyed = group.map((e) => ({
      e,
      key: normaliseForComparison(e.text),
    }));
    keyed.sort(
      (a, b) =>
        compare(a.key, b.key) ||
        compare(a.e.text, b.e.text) ||
        compare(a.e.source, b.e.source),
    );
    const random = mulberry32(fnv1a(label, (seed ^ 0x811c9dc5) >>> 0));
    for (let i = keyed.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [keyed[i], keyed[j]] = [keyed[j], keyed[i]];
    }
    const k = holdoutCount(keyed.length, fraction);
    for (let i = 0; i < k; i++) held.add(keyed[i].e);
  }
  return {
    train: examples.filter((e) => !held.has(e)),
    validation: examples.filter((e) => held.has(e)),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface SourceOptions {
  /** The repo-style data folder: labels.txt and validation/ come from here unless replaced. */
  dataDir: string;
  /** Training sources; none means the data folder's train/. */
  sources?: SourceSpec[];
  /** Take the labels from the training examples (code-unit order) instead of labels.txt. */
  labelsFromData?: boolean;
  /**
   * Split validation off the merged training examples instead of reading validation/; with
   * `sources`, only the examples of the sources so named are split (the others all train).
   */
  holdout?: { fraction: number; seed: number; sources?: readonly string[] };
  /** Label that may not be a class (the service's below-threshold answer). */
  reservedLabel: string;
  /**
   * Extra classes the service answers as `unknown` (out-of-scope examples): with labels.txt they
   * are appended after its labels; every one must have training examples.
   */
  rejectLabels?: readonly string[];
  /** Texts never to train on (evaluation sets): dropped like validation duplicates. */
  exclude?: readonly Example[];
}

export interface SourcedDataset {
  labels: string[];
  train: Example[];
  validation: Example[];
  sources: SourceReport[];
  labelsFrom: 'labels.txt' | 'data';
  validationFrom:
    | { from: 'validation/' }
    | {
        from: 'holdout';
        fraction: number;
        seed: number;
        stratified_by: 'label';
        /** Present when only these sources were split. */
        sources?: string[];
      };
}

/**
 * Reads, merges and checks the training sources, then takes validation either from the data
 * folder's validation/ (training texts equal to a validation text are dropped) or by hold-out.
 */
export function loadSources(options: SourceOptions): SourcedDataset {
  const specs = options.sources?.length
    ? options.sources
    : [{ path: join(options.dataDir, 'train'), name: 'train' }];
  const loaded = specs.map(readSource);
  const seen = new Set<string>();
  for (const source of loaded) {
    if (seen.has(source.name))
      throw new DataFormatError(
        `two sources are named "${source.name}"; give them distinct names`,
      );
    seen.add(source.name);
  }
  const fileValidation = options.holdout
    ? undefined
    : readSplit(options.dataDir, 'validation');
  const { examples, reports } = mergeSources(
    loaded,
    new Set(
      [...(fileValidation ?? []), ...(options.exclude ?? [])].map((e) =>
        normaliseForComparison(e.text),
      ),
    ),
  );
  let labels: string[];
  const labelsFile = join(options.dataDir, 'labels.txt');
  const reject = options.rejectLabels ?? [];
  if (options.labelsFromData) {
    labels = labelsFromData(examples, options.reservedLabel);
  } else {
    labels = readLabels(options.dataDir);
    const clash = reject.find((l) => labels.includes(l));
    if (clash)
      throw new DataFormatError(
        `reject label "${clash}" is one of ${labelsFile}'s intents`,
      );
    labels = [...labels, ...reject];
    checkLabels(examples, loaded, labels, labelsFile);
  }
  for (const label of reject) {
    if (label === options.reservedLabel)
      throw new DataFormatError(
        `"${label}" is what the service answers below the threshold; name the reject class otherwise`,
      );
    if (!examples.some((e) => e.label === label))
      throw new DataFormatError(
        `reject label "${label}" has no training examples`,
      );
  }
  if (reject.length >= labels.length - 1)
    throw new DataFormatError(
      'at least 2 labels besides the reject labels are needed',
    );
  const strip = (e: Example): Example => ({
    label: e.label,
    text: e.text,
    source: e.source,
  });
  if (options.holdout) {
    const { fraction, seed } = options.holdout;
    const only = options.holdout.sources;
    for (const name of only ?? [])
      if (!loaded.some((s) => s.name === name))
        throw new DataFormatError(
          `--holdout-from ${name}: no source has that name (sources: ${loaded.map((s) => s.name).join(', ')})`,
        );
    const splitFrom = only
      ? new Set(loaded.flatMap((s, i) => (only.includes(s.name) ? [i] : [])))
      : undefined;
    const split = holdoutSplit(
      splitFrom ? examples.filter((e) => splitFrom.has(e.from)) : examples,
      fraction,
      seed,
    );
    const held = new Set(split.validation);
    return {
      labels,
      train: examples.filter((e) => !held.has(e)).map(strip),
      validation: split.validation.map(strip),
      sources: reports,
      labelsFrom: options.labelsFromData ? 'data' : 'labels.txt',
      validationFrom: {
        from: 'holdout',
        fraction,
        seed,
        stratified_by: 'label',
        ...(only ? { sources: [...only] } : {}),
      },
    };
  }
  const validation = fileValidation ?? [];
  const known = new Set(labels);
  const bad = validation.find((e) => !known.has(e.label));
  if (bad)
    throw new DataFormatError(
      `${bad.source}: validation label "${bad.label}" is not one of the ${options.labelsFromData ? 'training data' : 'labels.txt'} labels` +
        (options.labelsFromData
          ? ' (use --holdout to validate on part of the sources)'
          : ''),
    );
  return {
    labels,
    train: examples.map(strip),
    validation,
    sources: reports,
    labelsFrom: options.labelsFromData ? 'data' : 'labels.txt',
    validationFrom: { from: 'validation/' },
  };
}
