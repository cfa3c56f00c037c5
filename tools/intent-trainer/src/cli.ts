import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { shippedArguments, SHIPPED_VERSION } from './recipe';
import type { SourceSpec } from './sources';

export const HELP = `Usage: ts-node --transpile-only -P tools/intent-trainer/tsconfig.json tools/intent-trainer/src/main.ts [options]

Trains the intent classifier and writes <out>/<version>/model.onnx and manifest.json.
Without --source, --holdout and --labels-from-data it trains on the data folder exactly as always.

  --data <dir>      labels.txt and validation/ (and train/ without --source) [tools/intent-trainer/data]
  --out <dir>       model root                                        [models/intent-classifier]
  --version <semver>                                                  [1.0.0]

  --source <path>[,name=<name>][,license=<license>]   (repeatable)
                    training examples from a .csv file (header with "text" and "category"
                    columns), a .tsv file or a folder of .tsv files (label<TAB>text). Sources
                    merge in the order given; repeated texts (case and whitespace ignored) keep
                    the first. The name defaults to the file name without extension.
  --source-name <name>        name of the --source just before it
  --source-license <license>  license of the --source just before it
  --labels-from-data          take the labels from the training examples (sorted) instead of
                              <data>/labels.txt
  --holdout <fraction>        validate on this share of each label's training examples
                              (stratified, seeded) instead of <data>/validation/
  --seed <n>                  seed of the --holdout split (integer 0..4294967295)  [0]
  --holdout-from <name>       (repeatable) split only the named sources' examples; the other
                              sources all train (e.g. validate on real queries only)
  --reject-label <label>      (repeatable) a class of out-of-scope examples: trained like the
                              others, answered "unknown" by the service (manifest reject_labels)
  --evaluate <path>[,name=<name>]   (repeatable) a labelled set scored with the final model and
                              reported apart in the manifest (evaluation.other_sets); rows with a
                              reject label count as right when answered "unknown"
  --typo-copies <n>           also train on n typo'd copies of every training example   [0]

  --shipped --banking77 <dir> the options that build the shipped model (${SHIPPED_VERSION}; src/recipe.ts)
                              from <dir>/train.csv and the data folder; only --data and --out
                              may be added
`;

/**
 * `--shipped --banking77 <dir>` stands for the shipped model's options (src/recipe.ts); only
 * --data and --out may be given besides. Other command lines are returned unchanged.
 */
export function expandShipped(
  args: readonly string[],
  defaults: { dataDir: string },
): string[] {
  if (!args.includes('--shipped')) return [...args];
  const rest: string[] = [];
  let banking77: string | undefined;
  let dataDir = defaults.dataDir;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--shipped') continue;
    if (arg === '--banking77' || arg === '--data' || arg === '--out') {
      const value = args[++i];
      if (value === undefined || value.startsWith('--'))
        throw new UsageError(`${arg} needs a value`);
      if (arg === '--banking77') banking77 = value;
      else {
        if (arg === '--data') dataDir = value;
        rest.push(arg, value);
      }
      continue;
    }
    throw new UsageError(
      `--shipped takes only --banking77, --data and --out (got ${arg})`,
    );
  }
  if (banking77 === undefined)
    throw new UsageError(
      "--shipped needs --banking77 <dir> (the folder holding Banking77's train.csv)",
    );
  return [...shippedArguments(resolve(banking77), resolve(dataDir)), ...rest];
}

export interface CliOptions {
  help: boolean;
  dataDir: string;
  outDir: string;
  version: string;
  sources: SourceSpec[];
  labelsFromData: boolean;
  holdout?: { fraction: number; seed: number; sources?: string[] };
  rejectLabels: string[];
  evaluate: SourceSpec[];
  typoCopies: number;
}

/** Thrown for a command line that cannot be used; main prints the message and the usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const SUFFIX = /,(name|license)=/;

/**
 * `path[,name=<name>][,license=<license>]`: the path ends at the first `,name=` or `,license=`;
 * a value runs to the next `,name=` / `,license=` (so a license may contain commas).
 */
export function parseSourceArgument(argument: string): SourceSpec {
  const at = argument.search(SUFFIX);
  const path = at === -1 ? argument : argument.slice(0, at);
  if (path === '') throw new UsageError(`--source "${argument}": no path`);
  const spec: SourceSpec = { path };
  if (at === -1) return spec;
  // Split the suffix before each `,name=` / `,license=`.
  const parts = argument.slice(at + 1).split(/,(?=(?:name|license)=)/);
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq) as 'name' | 'license';
    const value = part.slice(eq + 1).trim();
    if (value === '')
      throw new UsageError(`--source "${argument}": empty ${key}`);
    if (spec[key] !== undefined)
      throw new UsageError(`--source "${argument}": ${key} given twice`);
    spec[key] = value;
  }
  return spec;
}

/** Parses the trainer's command line (without node and the script). */
export function parseCli(
  args: readonly string[],
  defaults: { dataDir: string; outDir: string },
): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      tokens: true,
      options: {
        data: { type: 'string', default: defaults.dataDir },
        out: { type: 'string', default: defaults.outDir },
        version: { type: 'string', default: '1.0.0' },
        source: { type: 'string', multiple: true },
        'source-name': { type: 'string', multiple: true },
        'source-license': { type: 'string', multiple: true },
        'labels-from-data': { type: 'boolean', default: false },
        holdout: { type: 'string' },
        seed: { type: 'string' },
        'holdout-from': { type: 'string', multiple: true },
        'reject-label': { type: 'string', multiple: true },
        evaluate: { type: 'string', multiple: true },
        'typo-copies': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, tokens } = parsed;

  const sources: SourceSpec[] = [];
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (token.name === 'source') {
      sources.push(parseSourceArgument(token.value as string));
    } else if (
      token.name === 'source-name' ||
      token.name === 'source-license'
    ) {
      const key = token.name === 'source-name' ? 'name' : 'license';
      const last = sources[sources.length - 1];
      if (!last)
        throw new UsageError(
          `--${token.name} must follow the --source it describes`,
        );
      if (last[key] !== undefined)
        throw new UsageError(`--source ${last.path}: ${key} given twice`);
      const value = (token.value as string).trim();
      if (value === '') throw new UsageError(`--${token.name}: empty value`);
      last[key] = value;
    }
  }

  let holdout: CliOptions['holdout'];
  if (values.holdout !== undefined) {
    const fraction = Number(values.holdout);
    if (!(fraction > 0 && fraction < 1))
      throw new UsageError(
        `--holdout must be a fraction between 0 and 1 (exclusive), got "${values.holdout}"`,
      );
    const seed = values.seed === undefined ? 0 : Number(values.seed);
    if (
      !Number.isInteger(seed) ||
      seed < 0 ||
      seed > 0xffffffff ||
      /^\s*$/.test(values.seed ?? '0')
    )
      throw new UsageError(
        `--seed must be an integer from 0 to 4294967295, got "${values.seed}"`,
      );
    const from = values['holdout-from'] as string[] | undefined;
    holdout = from?.length
      ? { fraction, seed, sources: from }
      : { fraction, seed };
  } else if (values.seed !== undefined) {
    throw new UsageError('--seed only applies to --holdout');
  } else if (values['holdout-from'] !== undefined) {
    throw new UsageError('--holdout-from only applies to --holdout');
  }
  const rejectLabels = (values['reject-label'] as string[] | undefined) ?? [];
  for (const label of rejectLabels)
    if (
      label.trim() === '' ||
      rejectLabels.indexOf(label) !== rejectLabels.lastIndexOf(label)
    )
      throw new UsageError(`--reject-label "${label}": empty or given twice`);
  const typoCopies = Number(values['typo-copies'] ?? '0');
  if (
    !Number.isInteger(typoCopies) ||
    typoCopies < 0 ||
    typoCopies > 10 ||
    /^\s*$/.test(values['typo-copies'] ?? '0')
  )
    throw new UsageError(
      `--typo-copies must be an integer from 0 to 10, got "${values['typo-copies']}"`,
    );
  const evaluate = ((values.evaluate as string[] | undefined) ?? []).map(
    parseSourceArgument,
  );

  return {
    help: values.help as boolean,
    dataDir: resolve(values.data as string),
    outDir: resolve(values.out as string),
    version: values.version as string,
    sources,
    labelsFromData: values['labels-from-data'] as boolean,
    holdout,
    rejectLabels,
    evaluate,
    typoCopies,
  };
}
