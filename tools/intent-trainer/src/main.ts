import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { trainAndWrite } from './artifacts';

const HELP = `Usage: ts-node --transpile-only -P tools/intent-trainer/tsconfig.json tools/intent-trainer/src/main.ts [options]

Trains the Banking77 intent classifier and writes <out>/<version>/model.onnx and manifest.json.

  --data <dir>      training data (labels.txt, train/, validation/)   [tools/intent-trainer/data]
  --out <dir>       model root                                        [models/intent-classifier]
  --version <semver>                                                  [1.0.0]
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: resolve(__dirname, '..', 'data') },
      out: {
        type: 'string',
        default: resolve(
          __dirname,
          '..',
          '..',
          '..',
          'models',
          'intent-classifier',
        ),
      },
      version: { type: 'string', default: '1.0.0' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const started = Date.now();
  const dir = await trainAndWrite({
    dataDir: resolve(values.data as string),
    outDir: resolve(values.out as string),
    version: values.version as string,
    log: (message) => process.stdout.write(`${message}\n`),
  });
  process.stdout.write(
    `wrote ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
