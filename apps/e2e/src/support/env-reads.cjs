/**
 * Preloaded into a built app (`--require`): records every environment variable name that the
 * app's own code reads (a read whose caller is the app's bundle, not a node_modules package),
 * one name a line, appended to the file named by ENV_READS_FILE. The k8s tests compare what the
 * manifests set with these names, so the list comes from the code, never from a hand list.
 */
'use strict';
const { appendFileSync } = require('node:fs');

const out = process.env.ENV_READS_FILE;
const bundle = process.argv[1];
if (out && bundle) {
  const seen = new Set();
  process.env = new Proxy(process.env, {
    get(target, key) {
      if (typeof key === 'string' && /^[A-Z][A-Z0-9_]*$/.test(key) && !seen.has(key)) {
        // [0] "Error", [1] this trap, [2] whoever read process.env[key].
        const caller = (new Error().stack ?? '').split('\n')[2] ?? '';
        if (caller.includes(bundle)) {
          seen.add(key);
          appendFileSync(out, `${key}\n`);
        }
      }
      return Reflect.get(target, key);
    },
  });
}
