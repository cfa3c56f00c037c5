/**
 * The anomaly baseline: the least code that can serve the anomaly model over HTTP, given feature
 * vectors already computed (by the benchmark, with the detector's own feature code). It measures
 * what the real app's layers (Nest, validation, customer history, feature code, reasons, metrics)
 * cost on top of the model. Run as a child process of a benchmark:
 *
 *   ts-node --transpile-only -P tools/bench/tsconfig.json tools/bench/src/anomaly-bare-server.ts \
 *     --model models/anomaly-detector/1.0.0/model.onnx
 *
 * One ONNX session (intra- and inter-op threads 1). The simplest micro-batching: single rows wait
 * at most 1 ms (--max-delay-ms) or until 32 (--max-batch) are waiting, then run together; a batch
 * request is one run of all its rows; runs never overlap.
 *
 *   POST /predict/anomaly        {"features": number[F]}   -> {"score","is_anomaly"}
 *   POST /predict/anomaly/batch  {"features": number[][]}  -> {"predictions": [{"score","is_anomaly"}]}
 *   GET  /health/ready, GET /stats (runs, rows, requests: for the mean batch size)
 *
 * F (the input shape's second dimension: 31 for feature version anomaly-features/1, 25 for
 * anomaly-features/2; the server is agnostic, the benchmark computes the rows with the FeatureSet
 * the manifest's `feature_version` names) and the threshold come from the manifest beside the
 * model. Prints
 * `listening on http://127.0.0.1:<port>` once warm. Exits on SIGTERM/SIGINT, and with
 * --exit-with-stdin when its stdin closes (the benchmark that started it has gone).
 */
import type { ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { anomalyServer, BARE_SERVER_OPTIONS, microBatcher, send, serveUntilStopped } from './lib/bare-http';
import { InferenceSession, Tensor } from 'onnxruntime-node';

interface Manifest {
  threshold?: unknown;
  feature_version?: unknown;
  feature_names?: unknown;
  inputs?: Array<{ name?: string; shape?: unknown[] }>;
  outputs?: Array<{ name?: string }>;
}

/** One request waiting for a run: `count` rows starting at `rows`. */
interface Pending {
  rows: Float32Array;
  count: number;
  batch: boolean;
  res: ServerResponse;
}

const { values } = parseArgs({
  options: {
    ...BARE_SERVER_OPTIONS,
  },
});
if (!values.model) throw new Error('--model <path to model.onnx> is required');
const modelPath = values.model;
const maxBatch = Number(values['max-batch']);
const maxDelayMs = Number(values['max-delay-ms']);

const manifest = JSON.parse(readFileSync(join(dirname(modelPath), 'manifest.json'), 'utf8')) as Manifest;
const width = Number(manifest.inputs?.[0]?.shape?.[1]);
const threshold = manifest.threshold;
if (!Number.isInteger(width) || width < 1) throw new Error(`manifest beside ${modelPath} has no input shape [N, F]`);
if (typeof threshold !== 'number') throw new Error(`manifest beside ${modelPath} has no threshold`);
if (Array.isArray(manifest.feature_names) && manifest.feature_names.length !== width) {
  throw new Error(`manifest beside ${modelPath}: ${manifest.feature_names.length} feature_names (${String(manifest.feature_version)}) but input shape [N, ${width}]`);
}

const stats = { runs: 0, rows: 0, requests: 0 };



/** Copies one row into `out` at `offset`; false unless it is exactly `width` finite numbers. */
function copyRow(row: unknown, out: Float32Array, offset: number): boolean {
  if (!Array.isArray(row) || row.length !== width) return false;
  for (let j = 0; j < width; j++) {
    const v = row[j];
    if (typeof v !== 'number' || !Number.isFinite(v)) return false;
    out[offset + j] = v;
  }
  return true;
}

const answer = (score: number) => `{"score":${score},"is_anomaly":${score >= (threshold as number)}}`;

async function main() {
  const session = await InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const input = manifest.inputs?.[0]?.name ?? session.inputNames[0];
  const output = manifest.outputs?.[0]?.name ?? session.outputNames[0];

  async function score(rows: Float32Array, count: number): Promise<Float32Array> {
    const result = await session.run({ [input]: new Tensor('float32', rows, [count, width]) });
    return result[output].data as Float32Array;
  }

  /** One run over every row of `group`; a failed run fails every request in it. */
  async function run(group: Pending[]): Promise<void> {
    const count = group.reduce((n, p) => n + p.count, 0);
    stats.runs++;
    stats.rows += count;
    try {
      let rows: Float32Array;
      if (group.length === 1) rows = group[0].rows;
      else {
        rows = new Float32Array(count * width);
        group.forEach((p, i) => rows.set(p.rows, i * width));
      }
      const scores = await score(rows, count);
      let at = 0;
      for (const p of group) {
        if (p.batch) {
          const items: string[] = new Array(p.count);
          for (let i = 0; i < p.count; i++) items[i] = answer(scores[at + i]);
          send(p.res, 200, `{"predictions":[${items.join(',')}]}`);
        } else {
          send(p.res, 200, answer(scores[at]));
        }
        at += p.count;
      }
    } catch (e) {
      const body = JSON.stringify({ error: (e as Error).message });
      for (const p of group) send(p.res, 500, body);
    }
  }

  // Single rows at the head of the queue go together (up to maxBatch); a batch request runs alone.
  const enqueue = microBatcher<Pending>({ maxBatch, maxDelayMs, runsAlone: (p) => p.batch, run });

  /** The rows of a request body, or what is wrong with it. */
  function parse(body: string, batch: boolean): { rows: Float32Array; count: number } | string {
    let features: unknown;
    try {
      features = (JSON.parse(body) as { features?: unknown }).features;
    } catch {
      return 'body must be JSON';
    }
    if (!batch) {
      const rows = new Float32Array(width);
      return copyRow(features, rows, 0) ? { rows, count: 1 } : `features must be ${width} finite numbers`;
    }
    if (!Array.isArray(features) || features.length === 0) return 'features must be a non-empty array of rows';
    const rows = new Float32Array(features.length * width);
    for (let i = 0; i < features.length; i++) {
      if (!copyRow(features[i], rows, i * width)) return `features[${i}] must be ${width} finite numbers`;
    }
    return { rows, count: features.length };
  }

  const server = anomalyServer({ stats, prepare: parse, invalidStatus: 400, enqueue });

  // Warm-up: first runs allocate and pick kernels; the benchmark measures steady state.
  for (const n of [1, 8, maxBatch, 256, 1]) await score(new Float32Array(n * width), n);

  serveUntilStopped(server, { name: 'anomaly-bare', port: Number(values.port), exitWithStdin: values['exit-with-stdin'] === true, release: () => session.release() });
}

main().catch((e: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: e.message })}\n`);
  process.exit(1);
});
