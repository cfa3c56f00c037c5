import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..', '..');

/** The environment minus ts-node settings (Nx sets some for Jest) that would override ours. */
function withoutTsNodeSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([key]) => !key.startsWith('TS_NODE_')),
  );
}

/**
 * Runs the retrain command itself (src/main.ts under ts-node) in a child process: besides testing
 * the command, that keeps training out of Jest's sandbox, where typed arrays belong to another
 * realm and the optimiser's loops run several times slower.
 */
async function retrain(outDir: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '-r',
      require.resolve('ts-node/register/transpile-only'),
      join(__dirname, 'main.ts'),
      '--data',
      join(__dirname, '..', 'data'),
      '--out',
      outDir,
      '--version',
      '1.0.0',
    ],
    {
      cwd: ROOT,
      env: {
        ...withoutTsNodeSettings(process.env),
        TS_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json'),
      },
    },
  );
  return stdout;
}

describe('intent-classifier training', () => {
  let outDir: string;

  beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), 'intent-trainer-'));
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  // 1.0.0 was built by an earlier trainer (other C candidates); it stays in models/ for
  // rollback. The shipped 2.0.0 is rebuilt byte for byte by shipped-model.spec.ts.
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
