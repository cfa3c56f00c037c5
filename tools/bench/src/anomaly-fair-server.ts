/**
 * The anomaly detector's fair baseline: a bare `node:http` server doing the same work as the app
 * for every transaction, with the same libraries, and nothing else: the contract's validation
 * (`validateBody(TransactionDto)` and the transaction rules of @ml/contracts), features against the
 * customer's history from an in-memory Map (the FeatureSet the manifest names), one ONNX session
 * with the simplest micro-batching (as anomaly-bare-server.ts), per-feature contributions and
 * worded reasons (trees.json), and the fold of each transaction into its customer's profile. No
 * Nest, no admission, no metrics, no access log, no per-customer locks, no store abstraction.
 * It measures what the app's serving layers cost on top of its work:
 *
 *   ts-node --transpile-only -P tools/bench/tsconfig.json tools/bench/src/anomaly-fair-server.ts \
 *     --model models/anomaly-detector/2.0.0/model.onnx
 *
 *   POST /predict/anomaly        a transaction              -> {"transaction_id","score","is_anomaly","threshold","reasons"}
 *   POST /predict/anomaly/batch  {"transactions": [...]}    -> {"predictions": [...]}
 *   GET  /health/ready, GET /stats (runs, rows, requests)
 *
 * Each request's transactions are scored against the history as it is, and folded in (in place, in
 * time order) once their answers are worded, as the app does; without the app's per-customer locks
 * two requests of one customer in the same run both see the history before either.
 */
import { featureSetOf, TreeEnsemble, type FeatureVector, type TransactionInput, type UserProfile } from '@ml/anomaly-features';
import { DEFAULT_MAX_AMOUNT, TransactionBatchDto, TransactionDto, transactionRuleProblems, validateBody } from '@ml/contracts';
import type { ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { anomalyServer, BARE_SERVER_OPTIONS, microBatcher, send, serveUntilStopped } from './lib/bare-http';

interface Manifest {
  threshold: number;
  feature_version: string;
  inputs?: Array<{ name?: string }>;
  outputs?: Array<{ name?: string }>;
  files?: { contributions?: string };
}

interface Pending {
  rows: Float32Array;
  count: number;
  batch: boolean;
  items: { tx: TransactionInput; features: FeatureVector; profile: UserProfile | undefined }[];
  res: ServerResponse;
}

const { values } = parseArgs({
  options: {
    ...BARE_SERVER_OPTIONS,
  },
});
if (!values.model) throw new Error('--model <path to model.onnx> is required');
const modelPath = values.model;
const dir = dirname(modelPath);
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
const features = featureSetOf(manifest.feature_version);
const trees = TreeEnsemble.fromJSON(JSON.parse(readFileSync(join(dir, manifest.files?.contributions ?? 'trees.json'), 'utf8')));
const width = features.count;
const threshold = manifest.threshold;
const rules = { maxAmount: DEFAULT_MAX_AMOUNT, maxFutureMs: 24 * 3_600_000 };
const profiles = new Map<string, UserProfile>();
const stats = { runs: 0, rows: 0, requests: 0 };

function prediction(item: Pending['items'][number], raw: number): string {
  const score = Math.min(1, Math.max(0, Math.round(raw * 1e6) / 1e6));
  const reasons = features.rankReasons(trees.contributions(item.features.vector).values, item.features, item.tx, item.profile).map((r) => r.sentence);
  return JSON.stringify({ transaction_id: item.tx.transaction_id, score, is_anomaly: score >= threshold, threshold, reasons });
}

/** Validates like the service, then features against (and folds into) the in-memory histories. */
function prepare(body: string, batch: boolean): Omit<Pending, 'res' | 'batch'> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'body must be JSON';
  }
  let txs: TransactionInput[];
  try {
    txs = batch ? (validateBody(TransactionBatchDto, parsed).transactions as TransactionInput[]) : [validateBody(TransactionDto, parsed) as TransactionInput];
  } catch (e) {
    return (e as Error).message;
  }
  const now = Date.now();
  for (const tx of txs) {
    const problems = transactionRuleProblems(tx as TransactionDto, rules, now);
    if (problems.length) return JSON.stringify(problems);
  }
  const items: Pending['items'] = new Array(txs.length);
  const rows = new Float32Array(txs.length * width);
  txs.forEach((tx, i) => {
    const profile = profiles.get(tx.user_id);
    const f = features.compute(profile, tx);
    items[i] = { tx, features: f, profile };
    rows.set(f.vector, i * width);
  });
  return { rows, count: txs.length, items };
}

async function main() {
  const session = await InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const input = manifest.inputs?.[0]?.name ?? session.inputNames[0];
  const output = manifest.outputs?.[0]?.name ?? session.outputNames[0];
  const score = async (rows: Float32Array, count: number) =>
    (await session.run({ [input]: new Tensor('float32', rows, [count, width]) }))[output].data as Float32Array;

  async function run(group: Pending[]): Promise<void> {
    const count = group.reduce((n, p) => n + p.count, 0);
    stats.runs++;
    stats.rows += count;
    try {
      const rows = group.length === 1 ? group[0].rows : new Float32Array(count * width);
      if (group.length > 1) {
        let at = 0;
        for (const p of group) {
          rows.set(p.rows, at * width);
          at += p.count;
        }
      }
      const scores = await score(rows, count);
      let at = 0;
      for (const p of group) {
        const answers = p.items.map((item, i) => prediction(item, scores[at + i]));
        send(p.res, 200, p.batch ? `{"predictions":[${answers.join(',')}]}` : answers[0]);
        at += p.count;
        // The fold, in time order, into the live profiles (the memory store's in-place fold).
        const order = p.items.map((_, i) => i).sort((a, b) => (p.items[a].features.tx?.ts ?? 0) - (p.items[b].features.tx?.ts ?? 0) || a - b);
        for (const i of order) {
          const { tx, features: f } = p.items[i];
          if (f.tx) profiles.set(tx.user_id, features.foldInto(profiles.get(tx.user_id), f.tx));
        }
      }
    } catch (e) {
      const body = JSON.stringify({ error: (e as Error).message });
      for (const p of group) send(p.res, 500, body);
    }
  }
  const enqueue = microBatcher<Pending>({ maxBatch: Number(values['max-batch']), maxDelayMs: Number(values['max-delay-ms']), runsAlone: (p) => p.batch, run });

  const server = anomalyServer({ stats, prepare: prepare, invalidStatus: 422, enqueue });

  for (const n of [1, 8, 32, 256, 1]) await score(new Float32Array(n * width), n);
  serveUntilStopped(server, { name: 'anomaly-fair', port: Number(values.port), exitWithStdin: values['exit-with-stdin'] === true, release: () => session.release() });
}

main().catch((e: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: e.message })}\n`);
  process.exit(1);
});
