import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..', '..');
const SHIPPED = join(ROOT, 'models', 'intent-classifier', '1.0.0');

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

  it('rebuilds the shipped model.onnx and manifest.json byte for byte from the data', async () => {
    const log = await retrain(outDir);
    expect(log).toContain(`wrote ${join(outDir, '1.0.0')}`);
    const dir = join(outDir, '1.0.0');
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toBe(
      readFileSync(join(SHIPPED, 'manifest.json'), 'utf8'),
    );
    expect(
      readFileSync(join(dir, 'model.onnx')).equals(
        readFileSync(join(SHIPPED, 'model.onnx')),
      ),
    ).toBe(true);
  }, 900_000);
});
