import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrainer } from './testing/trainer-process';

/** The default retrain command (the repo's data) into `outDir`. */
async function retrain(outDir: string): Promise<string> {
  const { stdout } = await runTrainer([
    '--data',
    join(__dirname, '..', 'data'),
    '--out',
    outDir,
    '--version',
    '1.0.0',
  ]);
  return stdout;
}

describe('intent-classifier training', () => {
  let outDir: string;

  beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), 'intent-trainer-'));
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  // 1.0.0 was built by an earlier trainer (other C candidates); it stays in models/ for
  // rollback. The shipped 2.1.0 is rebuilt byte for byte by shipped-model.spec.ts.
  it("trains the same model.onnx and manifest.json bytes twice from the repo's data", async () => {
    const [a, b] = [join(outDir, 'a'), join(outDir, 'b')];
    const logs = await Promise.all([retrain(a), retrain(b)]);
    expect(logs[0]).toContain(`wrote ${join(a, '1.0.0')}`);
    for (const file of ['manifest.json', 'model.onnx']) {
      const first = readFileSync(join(a, '1.0.0', file));
      expect(first.length).toBeGreaterThan(1000);
      expect(first.equals(readFileSync(join(b, '1.0.0', file)))).toBe(true);
    }
  }, 900_000);
});
