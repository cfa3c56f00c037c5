import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serializeManifest } from './manifest';
import { trainIntentClassifier, type TrainOptions } from './trainer';

export interface WriteOptions extends TrainOptions {
  /** Folder that receives `<version>/model.onnx` and `<version>/manifest.json`. */
  outDir: string;
}

/** Trains and writes the model folder; returns the folder path. */
export async function trainAndWrite(options: WriteOptions): Promise<string> {
  const { model, manifest } = await trainIntentClassifier(options);
  const dir = join(options.outDir, options.version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), model);
  writeFileSync(join(dir, 'manifest.json'), serializeManifest(manifest));
  return dir;
}
