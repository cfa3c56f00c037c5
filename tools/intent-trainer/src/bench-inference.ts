// Measures onnxruntime-node inference time of a model folder (1 intra-op thread):
//   npx ts-node --transpile-only -P tools/intent-trainer/tsconfig.json tools/intent-trainer/src/bench-inference.ts [dir] [--ops]
// With --ops it also prints where a run's time goes, operator by operator (onnxruntime's own
// profiler, batches of 1, 16 and 32).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { readSplit } from './dataset';

const SESSION_OPTIONS = { intraOpNumThreads: 1, interOpNumThreads: 1 } as const;

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/** Mean microseconds per run of each node (kernel time), from a profile of `runs` runs. */
export function kernelTimes(events: readonly ProfileEvent[], runs: number): Array<{ node: string; op: string; us: number }> {
  const byNode = new Map<string, { op: string; total: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    const entry = byNode.get(node) ?? { op: e.args?.op_name ?? '?', total: 0 };
    entry.total += e.dur;
    byNode.set(node, entry);
  }
  return [...byNode]
    .map(([node, { op, total }]) => ({ node, op, us: total / runs }))
    .sort((a, b) => b.us - a.us);
}

async function operatorProfile(model: Buffer, texts: string[], size: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ort-profile-'));
  try {
    const session = await InferenceSession.create(model, { ...SESSION_OPTIONS, enableProfiling: true, profileFilePrefix: join(dir, 'run') });
    const runs = 200;
    const batch = Array.from({ length: size }, (_, i) => texts[i % texts.length]);
    for (let r = 0; r < runs; r++) await session.run({ text: new Tensor('string', batch, [size]) });
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error(`onnxruntime wrote no profile into ${dir}`);
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
    // The first runs (allocation, kernel choice) are in the profile too: a mean over 200 runs.
    const nodes = kernelTimes(events, runs);
    const total = nodes.reduce((s, n) => s + n.us, 0);
    process.stdout.write(`\nbatch ${size}: ${total.toFixed(0)} us of kernels per run (${(total / size).toFixed(1)} us per text)\n`);
    for (const n of nodes) {
      process.stdout.write(`  ${n.us.toFixed(0).padStart(6)} us  ${((100 * n.us) / total).toFixed(1).padStart(5)}%  ${n.op.padEnd(18)} ${n.node}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const ops = args.includes('--ops');
  const dir = resolve(
    args.find((a) => !a.startsWith('--')) ??
      join(__dirname, '..', '..', '..', 'models', 'intent-classifier', '1.0.0'),
  );
  const model = readFileSync(join(dir, 'model.onnx'));
  const session = await InferenceSession.create(model, SESSION_OPTIONS);
  const texts = readSplit(join(__dirname, '..', 'data'), 'validation').map(
    (e) => e.text,
  );
  const run = (batch: string[]) =>
    session.run({ text: new Tensor('string', batch, [batch.length]) });

  for (const size of [1, 32]) {
    const batches = Math.floor(texts.length / size);
    for (let i = 0; i < Math.min(batches, 50); i++)
      await run(texts.slice(i * size, (i + 1) * size)); // warm-up
    const rounds = size === 1 ? 3 : 10;
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < batches; i++)
        await run(texts.slice(i * size, (i + 1) * size));
    }
    const calls = rounds * batches;
    const micros = Number(process.hrtime.bigint() - started) / 1000 / calls;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMicros = (cpu.user + cpu.system) / calls;
    process.stdout.write(
      `batch ${size}: ${micros.toFixed(1)} us per call (CPU ${cpuMicros.toFixed(1)} us), ` +
        `${(micros / size).toFixed(1)} us per text, ${calls} calls\n`,
    );
  }
  await session.release();
  if (ops) for (const size of [1, 16, 32]) await operatorProfile(model, texts, size);
}

if (require.main === module) void main();
