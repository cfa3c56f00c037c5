/**
 * The ceiling for batch work: `session.run` called in-process, back to back, on batches of distinct
 * queries, with no HTTP, JSON or queue in between. Run as a child process of the intent benchmark
 * (so it has the machine to itself, as the servers do):
 *
 *   ts-node --transpile-only -P tools/bench/tsconfig.json tools/bench/src/inprocess.ts \
 *     --model models/intent-classifier/1.0.0/model.onnx --batch 256 --duration 10 [--threads 1]
 *
 * Prints one JSON line: {"batch", "threads", "runs", "predictions", "seconds", "predictionsPerSec"}.
 * With --threads 0 (the default) it tries 1 thread and as many threads as there are cores, and
 * reports the faster: the stricter baseline for whoever is compared with it.
 */
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { QueryCursor, QueryGenerator, readCorpus } from './lib/queries';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    batch: { type: 'string', default: '256' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    threads: { type: 'string', default: '0' },
    corpus: { type: 'string', default: 'tools/intent-trainer/data/validation' },
    seed: { type: 'string', default: '11' },
  },
});

interface Measured {
  batch: number;
  threads: number;
  runs: number;
  predictions: number;
  seconds: number;
  predictionsPerSec: number;
}

async function measure(modelPath: string, threads: number, batch: number, cursor: QueryCursor): Promise<Measured> {
  const session = await InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const input = session.inputNames[0];
  const next = () => {
    const texts = Array.from({ length: batch }, () => cursor.next());
    return { [input]: new Tensor('string', texts, [batch]) };
  };
  try {
    const warmEnd = performance.now() + Number(values.warmup) * 1000;
    while (performance.now() < warmEnd) await session.run(next());
    let runs = 0;
    const started = performance.now();
    const end = started + Number(values.duration) * 1000;
    while (performance.now() < end) {
      // Building the input tensor is timed too: a server has to build it as well.
      await session.run(next());
      runs++;
    }
    const seconds = (performance.now() - started) / 1000;
    return { batch, threads, runs, predictions: runs * batch, seconds, predictionsPerSec: (runs * batch) / seconds };
  } finally {
    await session.release();
  }
}

async function main() {
  if (!values.model) throw new Error('--model <path to model.onnx> is required');
  const batch = Number(values.batch);
  const cursor = new QueryCursor(new QueryGenerator(readCorpus(resolve(values.corpus ?? '')), Number(values.seed)));
  const wanted = Number(values.threads);
  const threadCounts = wanted > 0 ? [wanted] : [...new Set([1, cpus().length])];
  const results: Measured[] = [];
  for (const t of threadCounts) results.push(await measure(values.model, t, batch, cursor));
  const best = results.reduce((a, b) => (b.predictionsPerSec > a.predictionsPerSec ? b : a));
  process.stdout.write(`${JSON.stringify({ ...best, tried: results.map((r) => ({ threads: r.threads, predictionsPerSec: r.predictionsPerSec })) })}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: e.message })}\n`);
  process.exit(1);
});
