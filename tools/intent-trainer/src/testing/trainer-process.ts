import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..', '..', '..');
const SRC = join(__dirname, '..');

/**
 * Runs the trainer's command (src/main.ts under ts-node) in a child process with `args`; rejects
 * like execFile when it exits non-zero. Besides testing the command, a child process keeps
 * training out of Jest's sandbox, where typed arrays belong to another realm and the optimiser's
 * loops run several times slower. ts-node settings Nx sets for Jest are dropped so ours apply.
 */
export function runTrainer(
  args: readonly string[],
): Promise<{ stdout: string; stderr: string }> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('TS_NODE_')),
  );
  return promisify(execFile)(
    process.execPath,
    [
      '-r',
      require.resolve('ts-node/register/transpile-only'),
      join(SRC, 'main.ts'),
      ...args,
    ],
    {
      cwd: ROOT,
      env: { ...env, TS_NODE_PROJECT: join(SRC, '..', 'tsconfig.json') },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
}
