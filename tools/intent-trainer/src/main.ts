import { resolve } from 'node:path';
import { formatSummary, trainAndWrite } from './artifacts';
import { expandShipped, HELP, parseCli, UsageError } from './cli';

async function main(): Promise<void> {
  const defaults = {
    dataDir: resolve(__dirname, '..', 'data'),
    outDir: resolve(__dirname, '..', '..', '..', 'models', 'intent-classifier'),
  };
  const options = parseCli(
    expandShipped(process.argv.slice(2), defaults),
    defaults,
  );
  if (options.help) {
    process.stdout.write(HELP);
    return;
  }
  const started = Date.now();
  const { dir, manifest, sources } = await trainAndWrite({
    dataDir: options.dataDir,
    outDir: options.outDir,
    version: options.version,
    sources: options.sources,
    labelsFromData: options.labelsFromData,
    holdout: options.holdout,
    rejectLabels: options.rejectLabels,
    evaluate: options.evaluate,
    typoCopies: options.typoCopies,
    log: (message) => process.stdout.write(`${message}\n`),
  });
  process.stdout.write(`\n${formatSummary(manifest, sources, dir)}\n\n`);
  process.stdout.write(
    `wrote ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${HELP}`);
    process.exit(2);
  }
  const known = error instanceof Error && error.name === 'DataFormatError';
  process.stderr.write(
    `${error instanceof Error ? (known ? error.message : (error.stack ?? error.message)) : String(error)}\n`,
  );
  process.exit(1);
});
