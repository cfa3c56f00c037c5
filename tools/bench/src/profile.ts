/**
 * Prints where a profiled app's time went: busy time, self time by function and inclusive time by
 * package, optionally per request. Profiles come from a benchmark run with BENCH_CPU_PROF=<dir>
 * (one file per thread under <dir>/<app>), or from any `node --cpu-prof` run:
 *
 *   npm run bench:profile -- <file.cpuprofile> [--requests <n>] [--top <n>] [--inclusive <name,...>]
 *
 * `--inclusive` adds the inclusive time of named functions or packages (e.g. the access log's
 * `logResponse` and `sonic-boom`): what they cost, as a share of the busy time, however fast or
 * slow the machine ran while the profile was taken.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatRows, summariseProfile, type CpuProfile } from './lib/cpu-profile';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    requests: { type: 'string' },
    top: { type: 'string', default: '30' },
    inclusive: { type: 'string' },
  },
});
if (positionals.length === 0) {
  process.stderr.write('usage: profile.ts <file.cpuprofile> [...] [--requests <n>] [--top <n>] [--inclusive <function or package>,...]\n');
  process.exit(2);
}
const requests = values.requests ? Number(values.requests) : undefined;
const top = Number(values.top);
const focus = (values.inclusive ?? '').split(',').map((n) => n.trim()).filter(Boolean);
for (const file of positionals) {
  const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, focus);
  const busyS = (summary.totalUs - summary.idleUs) / 1e6;
  console.log(`${file}\nsampled ${(summary.totalUs / 1e6).toFixed(2)} s, busy ${busyS.toFixed(2)} s` + (requests ? `, ${((summary.totalUs - summary.idleUs) / requests).toFixed(1)} us busy per request` : ''));
  console.log(formatRows('\nself time by function (share of busy time)', summary.functions, top, requests));
  console.log(formatRows('\ninclusive time by package', summary.packages, top, requests));
  if (focus.length > 0) console.log(formatRows('\ninclusive time of --inclusive', summary.inclusive, focus.length + 1, requests));
  console.log('');
}
