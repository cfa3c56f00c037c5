import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Example {
  label: string;
  text: string;
  /** Where the line came from, for error messages: `validation/part-1.tsv:12`. */
  source: string;
}

export interface Dataset {
  labels: string[];
  train: Example[];
  validation: Example[];
}

/** Thrown when a data file cannot be parsed; the message names the file and line. */
export class DataFormatError extends Error {
  readonly code = 'DATA_FORMAT';
  constructor(message: string) {
    super(message);
    this.name = 'DataFormatError';
  }
}

export function isDataFormatError(e: unknown): e is DataFormatError {
  return e instanceof DataFormatError;
}

export function readLabels(dataDir: string): string[] {
  const labels = readFileSync(join(dataDir, 'labels.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (new Set(labels).size !== labels.length)
    throw new DataFormatError('labels.txt has duplicate labels');
  return labels;
}

/** Reads every `*.tsv` in `dataDir/split` in file-name order, so the example order is stable. */
export function readSplit(dataDir: string, split: string): Example[] {
  return readTsvDir(join(dataDir, split), split);
}

/** Every `*.tsv` directly in `dir`, in file-name order; sources read `<prefix>/<file>:<line>`. */
export function readTsvDir(dir: string, prefix: string): Example[] {
  return tsvFiles(dir).flatMap((file) =>
    parseTsv(readFileSync(join(dir, file), 'utf8'), `${prefix}/${file}`),
  );
}

/** Names of the `*.tsv` files directly in `dir`, sorted by code unit. */
export function tsvFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.tsv'))
    .sort();
}

/**
 * `label<TAB>text` lines (LF or CRLF; blank lines skipped; label and text trimmed). Each example's
 * source is `<file>:<line>`.
 */
export function parseTsv(content: string, file: string): Example[] {
  const out: Example[] = [];
  content.split('\n').forEach((line, i) => {
    const source = `${file}:${i + 1}`;
    const clean = line.replace(/\r$/, '');
    if (clean.trim() === '') return;
    const tab = clean.indexOf('\t');
    if (tab <= 0 || clean.indexOf('\t', tab + 1) !== -1) {
      throw new DataFormatError(`${source}: expected "label<TAB>text"`);
    }
    const text = clean.slice(tab + 1).trim();
    if (text === '') throw new DataFormatError(`${source}: empty text`);
    out.push({ label: clean.slice(0, tab).trim(), text, source });
  });
  return out;
}

export function readDataset(dataDir: string): Dataset {
  return {
    labels: readLabels(dataDir),
    train: readSplit(dataDir, 'train'),
    validation: readSplit(dataDir, 'validation'),
  };
}
