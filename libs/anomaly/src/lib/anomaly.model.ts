import { TreeEnsemble, featureSetOf, isModelFormatError, type FeatureSet } from '@ml/anomaly-features';
import { ModelLoadError, resolveModel, sha256File, type ModelAdapter, type ModelFiles, type TensorSpec } from '@ml/inference';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ANOMALY_MODEL_NAME } from './anomaly.constants';

/** The verified files of the anomaly model: the ONNX graph plus the same trees for contributions. */
export interface AnomalyModelFiles extends ModelFiles {
  treesPath: string;
  trees: TreeEnsemble;
  /** The features, profiles and reasons of the manifest's `feature_version`. */
  features: FeatureSet;
  /** is_anomaly = score >= threshold. */
  threshold: number;
  /** Protocol view of the input (`features` FP32 [-1, F]) and output (`score` FP32 [-1, 1]). */
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

interface ManifestTensor {
  name?: unknown;
  datatype?: unknown;
  dtype?: unknown;
  shape?: unknown;
}

const sameNames = (a: unknown, b: readonly string[]) => Array.isArray(a) && a.length === b.length && a.every((n, i) => n === b[i]);

function tensor(t: ManifestTensor | undefined, what: string, where: string, cols: number): TensorSpec {
  if (!t || typeof t.name !== 'string' || !t.name) throw new ModelLoadError(`${where} ${what} has no name`);
  const type = String(t.datatype ?? t.dtype ?? '').toUpperCase();
  if (type !== 'FP32' && type !== 'FLOAT32') throw new ModelLoadError(`${where} ${what} "${t.name}" must be float32 (got ${type || 'nothing'})`);
  const shape = t.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || shape[1] !== cols) {
    throw new ModelLoadError(`${where} ${what} "${t.name}" must have shape [N, ${cols}] (got ${JSON.stringify(shape)})`);
  }
  return { name: t.name, datatype: 'FP32', shape: [-1, cols] };
}

/**
 * Checks what the anomaly model's README requires before serving: the feature version and names
 * the model was trained on are the ones this build computes, the tensors are as expected, and
 * trees.json is the file the manifest names (sha256) and a valid ensemble over the same features.
 * Any mismatch is a ModelLoadError naming the file, so the service refuses to start.
 */
export async function verifyAnomalyModel(files: ModelFiles, alertRate?: number): Promise<AnomalyModelFiles> {
  const m = files.manifest;
  const where = join(files.dir, 'manifest.json');
  let features: FeatureSet;
  try {
    features = featureSetOf(m['feature_version']);
  } catch (e) {
    throw new ModelLoadError(`${where} was trained with features this build cannot compute: ${(e as Error).message}`);
  }
  if (!sameNames(m['feature_names'], features.names)) {
    throw new ModelLoadError(`${where} feature_names differ from the ${features.count} features this build computes (${features.version})`);
  }
  let threshold = m.threshold;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) throw new ModelLoadError(`${where} threshold must be a number in (0, 1)`);
  if (alertRate !== undefined) threshold = operatingPoint(m['operating_points'], alertRate, where);
  const inputs = [tensor(m.inputs?.[0] as ManifestTensor, 'input', where, features.count)];
  const outputs = [tensor(m.outputs?.[0] as ManifestTensor, 'output', where, 1)];

  const treesName = (m['files'] as { contributions?: unknown } | undefined)?.contributions ?? 'trees.json';
  if (typeof treesName !== 'string' || basename(treesName) !== treesName) throw new ModelLoadError(`${where} files.contributions must be a file name`);
  const treesPath = join(files.dir, treesName);
  const expected = m['trees_sha256'];
  if (typeof expected !== 'string') throw new ModelLoadError(`${where} lacks "trees_sha256"`);
  let actual: string;
  try {
    actual = await sha256File(treesPath);
  } catch (e) {
    throw new ModelLoadError(`${treesPath} cannot be read: ${(e as Error).message}`);
  }
  if (actual !== expected) throw new ModelLoadError(`${treesPath} sha256 ${actual} does not match the manifest's ${expected}`);
  let trees: TreeEnsemble;
  try {
    trees = TreeEnsemble.fromJSON(JSON.parse(await readFile(treesPath, 'utf8')));
  } catch (e) {
    const why = isModelFormatError(e) ? e.message : `not JSON: ${(e as Error).message}`;
    throw new ModelLoadError(`${treesPath} is not a tree ensemble: ${why}`);
  }
  if (trees.featureVersion !== features.version || !sameNames(trees.featureNames, features.names)) {
    throw new ModelLoadError(`${treesPath} was built for other features (${trees.featureVersion})`);
  }
  return { ...files, treesPath, trees, features, threshold, inputs, outputs };
}

/** The threshold of the manifest's operating point for `alertRate` (ANOMALY_ALERT_RATE). */
function operatingPoint(points: unknown, alertRate: number, where: string): number {
  const listed = Array.isArray(points) ? (points as { alert_rate?: unknown; threshold?: unknown }[]) : [];
  const rates = listed.map((p) => p.alert_rate).filter((r): r is number => typeof r === 'number');
  const point = listed.find((p) => typeof p.alert_rate === 'number' && Math.abs(p.alert_rate - alertRate) < 1e-12);
  if (!point) {
    throw new ModelLoadError(
      rates.length === 0
        ? `${where} lists no operating points: ANOMALY_ALERT_RATE cannot be used with this model`
        : `${where} has no operating point for ANOMALY_ALERT_RATE=${alertRate} (it lists ${rates.join(', ')})`,
    );
  }
  const t = point.threshold;
  if (typeof t !== 'number' || !(t > 0 && t < 1)) throw new ModelLoadError(`${where} operating point ${alertRate} has no threshold in (0, 1)`);
  return t;
}

/** Finds `<modelDir>/anomaly-detector/<version>/`, verifies model.onnx (sha256) and then everything above. */
export async function resolveAnomalyModel(modelDir: string, pinned?: string, alertRate?: number): Promise<AnomalyModelFiles> {
  return verifyAnomalyModel(await resolveModel(modelDir, ANOMALY_MODEL_NAME, pinned), alertRate);
}

/** Feature rows in (float32 [N, F]), one score per row out (float32 [N, 1]). */
export function anomalyAdapter(inputName: string, outputName: string, warmup: Float32Array[], featureCount: number): ModelAdapter<Float32Array, number> {
  return {
    encode: (rows) => {
      const data = new Float32Array(rows.length * featureCount);
      rows.forEach((row, i) => data.set(row, i * featureCount));
      return { [inputName]: { type: 'float32', data, dims: [rows.length, featureCount] } };
    },
    decode: (outputs, count) => {
      const out = outputs[outputName];
      if (!out) throw new Error(`model returned no "${outputName}" output`);
      const data = out.data as Float32Array;
      if (data.length !== count) throw new Error(`model returned ${data.length} scores for ${count} rows`);
      return Array.from(data);
    },
    warmup,
  };
}
