import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readCsvExamples } from './csv';
import {
  findExactDuplicates,
  findNearDuplicates,
  normaliseForComparison,
} from './data-checks';
import type { Example } from './dataset';

// Checks on the hand-written out-of-scope queries (data/out-of-scope/README.md): texts the
// service must answer `unknown`. Each failure lists the offending lines.
const LABEL = 'out_of_scope';
const dataDir = join(__dirname, '..', 'data');
const oosDir = join(dataDir, 'out-of-scope');
const repoRoot = resolve(__dirname, '..', '..', '..');

interface ParsedFile {
  examples: Example[];
  malformed: string[];
}

/** Every line must be `out_of_scope<TAB>text`: one tab, a trimmed non-empty text. */
function readOosFile(name: string): ParsedFile {
  const examples: Example[] = [];
  const malformed: string[] = [];
  const content = readFileSync(join(oosDir, name), 'utf8');
  if (!content.endsWith('\n')) malformed.push(`${name}: no final newline`);
  content
    .replace(/\n$/, '')
    .split('\n')
    .forEach((line, i) => {
      const source = `${name}:${i + 1}`;
      const fields = line.split('\t');
      if (
        fields.length !== 2 ||
        fields[0] !== LABEL ||
        fields[1] === '' ||
        fields[1] !== fields[1].trim() ||
        /[\r\n]/.test(fields[1])
      ) {
        malformed.push(`${source}: ${JSON.stringify(line)}`);
        return;
      }
      examples.push({ label: fields[0], text: fields[1], source });
    });
  return { examples, malformed };
}

const train = readOosFile('train.tsv');
const validation = readOosFile('validation.tsv');
/** Evaluation only (assistant-style requests, data/out-of-scope/README.md): never trained on. */
const probe = readOosFile('assistant-probe.tsv');
/** Evaluation only (general assistant requests written apart from the training texts): never trained on. */
const generalProbe = readOosFile('general-probe.tsv');
const all = [...train.examples, ...validation.examples, ...probe.examples, ...generalProbe.examples];
const labels = readFileSync(join(dataDir, 'labels.txt'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l.length > 0);

const banking77Dir = resolve(
  repoRoot,
  process.env['BANKING77_DIR'] ?? join('..', 'shared', 'data', 'banking77'),
);
const banking77Train = join(banking77Dir, 'train.csv');
const haveBanking77 = existsSync(banking77Train);

/** Pairs of `texts` and `against` at 4-gram Jaccard >= 0.7, one readable line each. */
function nearDuplicates(against: readonly Example[], texts: readonly Example[]): string[] {
  return findNearDuplicates(against, texts, 0.7).map(
    (p) =>
      `${p.validation.source} "${p.validation.text}" ~ ${p.train.source} "${p.train.text}" (${p.jaccard.toFixed(3)})`,
  );
}

describe('out-of-scope data', () => {
  it('has at least 1,000 examples in all and 200 in validation', () => {
    expect(all.length).toBeGreaterThanOrEqual(1000);
    expect(validation.examples.length).toBeGreaterThanOrEqual(200);
  });

  it('has only well-formed "out_of_scope<TAB>text" lines', () => {
    expect([...train.malformed, ...validation.malformed, ...probe.malformed, ...generalProbe.malformed]).toEqual([]);
  });

  it('has no duplicate texts (case and whitespace ignored) in or across splits and the probes', () => {
    const groups = findExactDuplicates(all).map((g) =>
      g.map((e) => `${e.source} "${e.text}"`).join(' = '),
    );
    expect(groups).toEqual([]);
  });

  it('has no validation text with character 4-gram Jaccard >= 0.7 to a training text', () => {
    expect(nearDuplicates(train.examples, validation.examples)).toEqual([]);
  });

  it.each([
    ['assistant-probe.tsv', probe],
    ['general-probe.tsv', generalProbe],
  ])('has no text of %s with character 4-gram Jaccard >= 0.7 to a training or validation text', (_name, file) => {
    expect(file.examples.length).toBeGreaterThanOrEqual(300);
    expect(nearDuplicates([...train.examples, ...validation.examples], file.examples)).toEqual([]);
  });

  it('has no text equal to a label name', () => {
    const names = new Set(labels.map(normaliseForComparison));
    const hits = all
      .filter((e) => names.has(normaliseForComparison(e.text)))
      .map((e) => `${e.source} "${e.text}"`);
    expect(hits).toEqual([]);
  });

  (haveBanking77 ? it : it.skip)(
    haveBanking77
      ? `has no text with 4-gram Jaccard >= 0.7 to an in-scope query in ${banking77Train}`
      : `has no near-duplicate of an in-scope Banking77 query (skipped: ${banking77Train} is missing; set BANKING77_DIR to the folder holding train.csv)`,
    () => {
      const inScope: Example[] = readCsvExamples(banking77Train, 'train.csv');
      expect(inScope.length).toBeGreaterThan(0);
      const pairs = findNearDuplicates(inScope, all, 0.7).map(
        (p) =>
          `${p.validation.source} "${p.validation.text}" ~ ${p.train.source} "${p.train.text}" [${p.train.label}] (${p.jaccard.toFixed(3)})`,
      );
      expect(pairs).toEqual([]);
    },
  );
});
