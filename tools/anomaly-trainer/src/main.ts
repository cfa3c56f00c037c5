import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { scoreWithOnnxRuntime } from './lib/onnx.runtime';
import { DEFAULT_PIPELINE, runPipeline, type Artifacts } from './lib/pipeline';
import { DEFAULT_PIPELINE_2, runCsvPipeline, runPipeline2 } from './lib/pipeline2';
import { readTransactionsCsv } from './lib/transactions.csv';

const USAGE = `Trains an anomaly-detector model.

  npm run train:anomaly                       the shipped 2.0.0 (simulated populations) -> models/anomaly-detector/2.0.0
  npm run train:anomaly -- --recipe 1.0.0     the previous shipped model (rollback), byte for byte
  npm run train:anomaly -- --transactions FILE.csv [--version 2.1.0] [--alert-rate 0.005] [--valid-share 0.2]
                                              your own labelled history (see tools/anomaly-trainer/README.md)
Options:
  --out <dir>          where model.onnx, trees.json and manifest.json go (default models/anomaly-detector/<version>)
  --check              retrain and compare with the files in --out instead of writing (exit 1 on any difference)
`;

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function fraction(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!(v > 0 && v < 1)) throw new Error(`--${name} must be a number between 0 and 1 (exclusive), got ${JSON.stringify(raw)}`);
  return v;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      check: { type: 'boolean' },
      recipe: { type: 'string' },
      transactions: { type: 'string' },
      version: { type: 'string' },
      'alert-rate': { type: 'string' },
      'valid-share': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const log = (m: string) => console.log(m);
  const started = Date.now();
  let artifacts: Artifacts;
  let version: string;
  if (values.transactions) {
    version = values.version ?? '2.1.0';
    if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`--version must be MAJOR.MINOR.PATCH, got ${JSON.stringify(version)}`);
    const file = resolve(values.transactions);
    const { rows, errors, ignoredColumns } = await readTransactionsCsv(file);
    if (ignoredColumns.length > 0) console.warn(`ignored columns: ${ignoredColumns.join(', ')}`);
    if (errors.length > 0) {
      for (const e of errors) console.error(`${basename(file)}:${e.line}: ${e.field ? `${e.field}: ` : ''}${e.message}`);
      throw new Error(`${errors.length} invalid row(s) in ${file}; fix them or remove them`);
    }
    artifacts = await runCsvPipeline(rows, {
      version,
      alertRate: fraction('alert-rate', values['alert-rate'], DEFAULT_PIPELINE_2.alertRate),
      validShare: fraction('valid-share', values['valid-share'], 0.2),
      scoreOnnx: scoreWithOnnxRuntime,
      log,
      source: { file: basename(file), sha256: await sha256Of(file) },
    });
  } else if ((values.recipe ?? DEFAULT_PIPELINE_2.version) === DEFAULT_PIPELINE.version) {
    version = DEFAULT_PIPELINE.version;
    artifacts = await runPipeline({ ...DEFAULT_PIPELINE, scoreOnnx: scoreWithOnnxRuntime, log });
  } else if ((values.recipe ?? DEFAULT_PIPELINE_2.version) === DEFAULT_PIPELINE_2.version) {
    version = DEFAULT_PIPELINE_2.version;
    artifacts = await runPipeline2({ ...DEFAULT_PIPELINE_2, scoreOnnx: scoreWithOnnxRuntime, log });
  } else {
    throw new Error(`--recipe must be ${DEFAULT_PIPELINE_2.version} or ${DEFAULT_PIPELINE.version}`);
  }
  const out = resolve(values.out ?? join('models', 'anomaly-detector', version));
  const files: Array<[string, Uint8Array | string]> = [
    ['model.onnx', artifacts.onnx],
    ['trees.json', artifacts.treesJson],
    ['manifest.json', artifacts.manifestJson],
  ];
  const evaluation = artifacts.manifest['evaluation'] as Record<string, unknown>;
  for (const [name, e] of Object.entries(evaluation)) {
    if (Array.isArray(e)) {
      for (const p of e as Record<string, unknown>[]) console.log(`${p['name']} (${p['role']}): ROC-AUC ${p['roc_auc']} PR-AUC ${p['pr_auc']} precision ${p['precision']} recall ${p['recall']} alert rate ${p['alert_rate']}`);
    } else if (e && typeof e === 'object') {
      const r = e as Record<string, unknown>;
      console.log(`${name}: ROC-AUC ${r['roc_auc']} PR-AUC ${r['pr_auc']} precision ${r['precision']} recall ${r['recall']} at threshold ${artifacts.manifest.threshold}`);
    } else console.log(`${name}: ${String(e)}`);
  }
  if (values.check) {
    const different = files.filter(([name, content]) => {
      try {
        return !readFileSync(join(out, name)).equals(Buffer.from(content));
      } catch {
        return true;
      }
    });
    for (const [name] of different) console.error(`differs from a fresh training: ${join(out, name)}`);
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return different.length === 0 ? 0 : 1;
  }
  mkdirSync(out, { recursive: true });
  for (const [name, content] of files) writeFileSync(join(out, name), content);
  console.log(`wrote ${files.map(([n]) => join(out, n)).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    console.error('run with --help for usage');
    process.exit(1);
  },
);
