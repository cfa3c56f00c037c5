/**
 * The baseline servers: the least code that can serve the intent model over HTTP, to measure what
 * the real app's layers cost. Run as a child process of a benchmark (so the load generator does
 * not share its event loop):
 *
 *   ts-node --transpile-only -P tools/bench/tsconfig.json tools/bench/src/bare-server.ts \
 *     --kind once|batched --model models/intent-classifier/1.0.0/model.onnx
 *
 * `once`: one `session.run` per request. `batched`: the simplest micro-batching, one run for
 * whatever arrived within 1 ms of the first waiting request, or as soon as 32 are waiting.
 *
 * POST /predict/intent {"query"} -> {"intent","confidence"}; GET /health/ready; GET /stats (runs
 * and items, for the mean batch size). Prints `listening on http://127.0.0.1:<port>` once warm.
 * Exits on SIGTERM/SIGINT, and with --exit-with-stdin when its stdin closes (the benchmark that
 * started it has gone).
 */
import { createServer, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { parseArgs } from 'node:util';
import { BARE_SERVER_OPTIONS, readBody, send, serveUntilStopped, microBatcher } from './lib/bare-http';

interface Manifest {
  labels: string[];
  inputs?: Array<{ name: string }>;
  outputs?: Array<{ name: string }>;
}

interface Pending {
  query: string;
  res: ServerResponse;
}

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    ...BARE_SERVER_OPTIONS,
  },
});
const kind = values.kind;
if (kind !== 'once' && kind !== 'batched') throw new Error('--kind must be "once" or "batched"');
if (!values.model) throw new Error('--model <path to model.onnx> is required');
const modelPath = values.model;
const maxBatch = Number(values['max-batch']);
const maxDelayMs = Number(values['max-delay-ms']);

const manifest = JSON.parse(readFileSync(join(dirname(modelPath), 'manifest.json'), 'utf8')) as Manifest;
const labels = manifest.labels;
if (!Array.isArray(labels) || labels.length === 0) throw new Error(`manifest beside ${modelPath} has no labels`);

const stats = { runs: 0, items: 0 };

function argmax(data: Float32Array, offset: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (data[offset + j] > data[offset + best]) best = j;
  return best;
}



async function main() {
  const session = await InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const input = manifest.inputs?.[0]?.name ?? session.inputNames[0];
  const output = manifest.outputs?.[0]?.name ?? session.outputNames[0];

  /** One run over `batch`, one answer per request; a failed run fails every request in it. */
  async function runBatch(batch: Pending[]): Promise<void> {
    stats.runs++;
    stats.items += batch.length;
    try {
      const texts = batch.map((p) => p.query);
      const result = await session.run({ [input]: new Tensor('string', texts, [texts.length]) });
      const data = result[output].data as Float32Array;
      const width = data.length / batch.length;
      batch.forEach((p, i) => {
        const best = argmax(data, i * width, width);
        send(p.res, 200, JSON.stringify({ intent: labels[best], confidence: data[i * width + best] }));
      });
    } catch (e) {
      const body = JSON.stringify({ error: (e as Error).message });
      for (const p of batch) send(p.res, 500, body);
    }
  }

  const enqueue = microBatcher<Pending>({ maxBatch, maxDelayMs, run: runBatch });

  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health/ready') return send(res, 200, '{"status":"ok"}');
    if (req.method === 'GET' && req.url === '/stats') return send(res, 200, JSON.stringify({ kind, ...stats }));
    if (req.method !== 'POST' || req.url !== '/predict/intent') return send(res, 404, '{"error":"not found"}');
    readBody(req, 65_536).then(
      (body) => {
        let query: unknown;
        try {
          query = (JSON.parse(body) as { query?: unknown }).query;
        } catch {
          return send(res, 400, '{"error":"body must be JSON"}');
        }
        if (typeof query !== 'string' || query.trim() === '') return send(res, 400, '{"error":"query must be a non-empty string"}');
        const pending = { query, res };
        if (kind === 'once') void runBatch([pending]);
        else enqueue(pending);
      },
      () => send(res, 413, '{"error":"body too large"}'),
    );
  });

  // Warm-up: first runs allocate and pick kernels; the benchmark measures steady state.
  for (const n of [1, 8, maxBatch, 1]) {
    const texts = Array.from({ length: n }, (_, i) => `my card has not arrived yet ${i}`);
    await session.run({ [input]: new Tensor('string', texts, [n]) });
  }

  serveUntilStopped(server, { name: `bare-${kind}`, port: Number(values.port), exitWithStdin: values['exit-with-stdin'] === true, release: () => session.release() });
}

main().catch((e: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: e.message })}\n`);
  process.exit(1);
});
