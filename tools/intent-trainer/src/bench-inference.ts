// Measures onnxruntime-node inference time of a model folder (1 intra-op thread):
//   npx ts-node --transpile-only -P tools/intent-trainer/tsconfig.json tools/intent-trainer/src/bench-inference.ts [dir]
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { readSplit } from './dataset';

async function main(): Promise<void> {
  const dir = resolve(
    process.argv[2] ??
      join(__dirname, '..', '..', '..', 'models', 'intent-classifier', '1.0.0'),
  );
  const session = await InferenceSession.create(
    readFileSync(join(dir, 'model.onnx')),
    {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    },
  );
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
}

void main();
