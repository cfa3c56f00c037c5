import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ModelLoadError } from './inference.errors';

export interface TensorSpec {
  name: string;
  /** Open Inference Protocol datatype: BYTES, FP32, INT64, ... */
  datatype: string;
  shape: number[];
}

/** What `manifest.json` beside every `model.onnx` says. Model-specific fields stay in `extra`. */
export interface ModelManifest {
  name: string;
  version: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  sha256: string;
  labels?: string[];
  threshold?: number;
  [extra: string]: unknown;
}

export interface ModelFiles {
  name: string;
  version: string;
  dir: string;
  modelPath: string;
  manifest: ModelManifest;
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

/** Versions present for a model, highest first (numeric semver order). */
export function listVersions(modelDir: string, name: string): string[] {
  const dir = join(modelDir, name);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((v) => SEMVER.test(v) && statSync(join(dir, v)).isDirectory())
    .sort((a, b) => {
      // Both passed SEMVER.test above.
      const [pa, pb] = [a, b].map((v) => (SEMVER.exec(v) ?? []).slice(1).map(Number));
      return pb[0] - pa[0] || pb[1] - pa[1] || pb[2] - pa[2];
    });
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Finds `<modelDir>/<name>/<version>/` (the pinned version, else the highest present), reads its
 * manifest and verifies the ONNX file's sha256 against it. Any problem is a {@link ModelLoadError}
 * naming the path, so a bad deployment fails at boot rather than at the first request.
 */
export async function resolveModel(modelDir: string, name: string, pinned?: string): Promise<ModelFiles> {
  const root = resolve(modelDir);
  const versions = listVersions(root, name);
  if (versions.length === 0) throw new ModelLoadError(`no versions of model "${name}" under ${join(root, name)}`);
  const version = pinned ?? versions[0];
  if (!versions.includes(version)) {
    throw new ModelLoadError(`model "${name}" has no version "${version}" (present: ${versions.join(', ')})`);
  }
  const dir = join(root, name, version);
  const modelPath = join(dir, 'model.onnx');
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(modelPath)) throw new ModelLoadError(`${modelPath} is missing`);
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ModelManifest;
  } catch (e) {
    throw new ModelLoadError(`${manifestPath} is missing or not JSON: ${(e as Error).message}`);
  }
  for (const field of ['name', 'version', 'sha256', 'inputs', 'outputs'] as const) {
    if (manifest[field] === undefined) throw new ModelLoadError(`${manifestPath} lacks "${field}"`);
  }
  if (manifest.name !== name || manifest.version !== version) {
    throw new ModelLoadError(`${manifestPath} describes ${manifest.name}@${manifest.version}, expected ${name}@${version}`);
  }
  const actual = await sha256File(modelPath);
  if (actual !== manifest.sha256) {
    throw new ModelLoadError(`${modelPath} sha256 ${actual} does not match the manifest's ${manifest.sha256}`);
  }
  return { name, version, dir, modelPath, manifest };
}
