/*
 * Writes the shipped hold-out split of Banking77's train.csv, drawn with each given seed, as CSV
 * files for the scikit-learn anchor (`anchor.py`): train-<seed>.csv, val-<seed>.csv and
 * valtypo-<seed>.csv (the validation queries' typo'd copy, with the trainer's own TYPO_SEED).
 * The rows are Banking77's: write them outside the repo (e.g. /tmp), never commit them.
 * Not part of the build or the tests. Example:
 *   npx ts-node --transpile-only -P tools/intent-trainer/tsconfig.json tools/intent-trainer/scripts/export-splits.ts \
 *     ../shared/data/banking77/train.csv /tmp/b77split 7 8 9
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSources } from '../src/sources';
import { TYPO_SEED } from '../src/trainer';
import { typoCopy } from '../src/typos';

const [csv, out, ...seeds] = process.argv.slice(2);
if (!csv || !out || seeds.length === 0) {
  process.stderr.write('usage: export-splits.ts <train.csv> <out dir> <seed>...\n');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
const write = (file: string, rows: { text: string; label: string }[]) =>
  writeFileSync(join(out, file), 'text,category\n' + rows.map((e) => `${quote(e.text)},${e.label}\n`).join(''));
for (const seed of seeds.map(Number)) {
  const split = loadSources({
    dataDir: join(__dirname, '..', 'data'),
    sources: [{ path: csv, name: 'banking77' }],
    labelsFromData: true,
    reservedLabel: 'unknown',
    holdout: { fraction: 0.1, seed },
  });
  write(`train-${seed}.csv`, split.train);
  write(`val-${seed}.csv`, split.validation);
  write(`valtypo-${seed}.csv`, typoCopy(split.validation, TYPO_SEED));
  console.log(`seed ${seed}: ${split.train.length} training, ${split.validation.length} validation queries`);
}
