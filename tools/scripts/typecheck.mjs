#!/usr/bin/env node
// Type-checks every tsconfig.{app,lib,spec}.json of one project: `node typecheck.mjs <projectRoot>`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2];
const configs = ['tsconfig.app.json', 'tsconfig.lib.json', 'tsconfig.spec.json', 'tsconfig.tool.json']
  .map((f) => join(root, f))
  .filter((f) => existsSync(f));
for (const config of configs) {
  execFileSync(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', config], {
    stdio: 'inherit',
  });
}
console.log(`typecheck ${root}: ${configs.length} config(s) clean`);
