import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { scoreWithOnnxRuntime } from './lib/onnx.runtime';
import { DEFAULT_PIPELINE, runPipeline } from './lib/pipeline';

/**
 * Trains the shipped anomaly-detector model.
 *   --out <dir>   where model.onnx, trees.json and manifest.json go (default models/anomaly-detector/1.0.0)
 *   --check       retrain and compare with the files in --out instead of writing (exit 1 on any difference)
 */
async function main(argv: string[]): Promise<number> {
  const outArg = argv.indexOf('--out');
  const out = resolve(
    outArg >= 0
      ? argv[outArg + 1]
      : join('models', 'anomaly-detector', DEFAULT_PIPELINE.version),
  );
  const check = argv.includes('--check');
  const started = Date.now();
  const artifacts = await runPipeline({
    ...DEFAULT_PIPELINE,
    scoreOnnx: scoreWithOnnxRuntime,
    log: (m) => console.log(m),
  });
  const files: Array<[string, Uint8Array | string]> = [
    ['model.onnx', artifacts.onnx],
    ['trees.json', artifacts.treesJson],
    ['manifest.json', artifacts.manifestJson],
  ];
  const evaluation = artifacts.manifest['evaluation'] as Record<
    string,
    Record<string, unknown>
  >;
  for (const [name, e] of Object.entries(evaluation)) {
    console.log(
      `${name}: ROC-AUC ${e['roc_auc']} PR-AUC ${e['pr_auc']} precision ${e['precision']} recall ${e['recall']} at threshold ${artifacts.manifest.threshold}`,
    );
  }
  if (check) {
    const different = files.filter(([name, content]) => {
      const expected =
        typeof content === 'string'
          ? Buffer.from(content)
          : Buffer.from(content);
      try {
        return !readFileSync(join(out, name)).equals(expected);
      } catch {
        return true;
      }
    });
    for (const [name] of different)
      console.error(`differs from a fresh training: ${join(out, name)}`);
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return different.length === 0 ? 0 : 1;
  }
  mkdirSync(out, { recursive: true });
  for (const [name, content] of files) writeFileSync(join(out, name), content);
  console.log(
    `wrote ${files.map(([n]) => join(out, n)).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
