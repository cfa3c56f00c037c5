/**
 * Paired benchmark: two configurations of the gateway -> intent-classifier pair, both running at
 * once, measured in short alternating bursts, and compared burst by burst.
 *
 * The other benchmarks measure one configuration after another; on a shared machine whose
 * throughput moves by 2x from one minute to the next (2026-12-05: 4,519 to 9,187 req/s for the
 * same gateway, same load), a 5% effect such as the access log's cost is lost in that. Here both
 * pairs stay up, each burst measures A then B (B then A in the next, so neither always goes
 * first), and the result is the median of the per-burst ratios B / A: two measurements a few
 * seconds apart see nearly the same machine. Beside throughput, the CPU the gateway spent per
 * request (from /proc), which a busy neighbour moves less than it moves req/s.
 *
 * What is compared (each pair as deployed: k8s/ env, production, logs to files, own processes):
 *   --log-level a,b   the same build at two log levels (default info,warn: what the access log costs)
 *   --env-b K=V,...   the same build and level, B with these env changes on both apps (e.g.
 *                     ACCESS_LOG_SAMPLE=0.01: what the access log's lines cost, against what the
 *                     level costs otherwise)
 *   --root-b <dir>    another checkout's build (dist/ and node_modules of its own) against this one's,
 *                     both at the first --log-level; e.g. the build before a change:
 *                       git worktree add /tmp/before <rev> && ln -s "$PWD/node_modules" /tmp/before/
 *                       (cd /tmp/before && NX_DAEMON=false npx nx run-many -t build -p gateway,intent-classifier --configuration=production)
 *
 *   npx ts-node --transpile-only -P tools/bench/tsconfig.json tools/bench/src/paired.bench.ts [--bursts 8] [--duration 3] [--scenarios hit,miss]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeOverrides } from './lib/deployed';
import { applyLoadOptions, CPU_USAGE, ENGINE_USAGE, log, positiveOption } from './lib/cli';
import { coresUsed, cpuSnapshot } from './lib/cpu';
import { killAllChildren, logsGoTo } from './lib/processes';
import { QueryCursor, QueryGenerator, readCorpus } from './lib/queries';
import { fmt, median, ratio, renderTable } from './lib/report';
import { benchApiKey, startGatewayStack, type GatewayStack } from './lib/gateway-stack';
import { runLoad, WORKSPACE_ROOT, type LoadResult } from './lib/targets';

const USAGE = `usage: paired.bench.ts [options]
  --log-level <a,b>     the two LOG_LEVELs compared on this build (info,warn); with --root-b, one level for both
  --root-b <dir>        compare this checkout's build (A) with the build of <dir> (B) instead
  --env-b <K=V,...>     B is A with these env changes (both apps; with one --log-level)
  --scenarios <list>    hit,miss: gateway cache hits (a pool of --hit-pool queries) and misses (every query new)
  --bursts <n>          measured bursts per scenario, each one A and one B (8)
  --duration <s>        measured seconds per side of a burst (3)
  --warmup <s>          unmeasured seconds of the same load before each side (1)
  --connections <n>     (32)
  --hit-pool <n>        (200)
${CPU_USAGE}
${ENGINE_USAGE}
  --corpus <dir> --out <dir> --log-dir <dir>`;

const { values: args } = parseArgs({
  options: {
    'log-level': { type: 'string', default: 'info,warn' },
    'root-b': { type: 'string' },
    'env-b': { type: 'string' },
    scenarios: { type: 'string', default: 'hit,miss' },
    bursts: { type: 'string', default: '8' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '32' },
    'hit-pool': { type: 'string', default: '200' },
    'server-cpus': { type: 'string' },
    'driver-cpus': { type: 'string' },
    engine: { type: 'string' },
    corpus: { type: 'string', default: 'tools/intent-trainer/data/validation' },
    out: { type: 'string', default: 'tools/bench/results' },
    'log-dir': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

const bursts = positiveOption(USAGE, 'bursts', args.bursts);
const durationSec = positiveOption(USAGE, 'duration', args.duration);
const warmupSec = positiveOption(USAGE, 'warmup', args.warmup, true);
const connections = positiveOption(USAGE, 'connections', args.connections);
const hitPool = positiveOption(USAGE, 'hit-pool', args['hit-pool']);
const scenarios = (args.scenarios ?? '').split(',').map((s) => s.trim()).filter(Boolean);
for (const s of scenarios) {
  if (s !== 'hit' && s !== 'miss') {
    console.error(`--scenarios: hit and/or miss, not ${s}\n${USAGE}`);
    process.exit(2);
  }
}
const levels = (args['log-level'] ?? '').split(',').map((l) => l.trim()).filter(Boolean);
const rootB = args['root-b'] === undefined ? undefined : resolve(args['root-b']);
const envB: Record<string, string> = {};
for (const kv of (args['env-b'] ?? '').split(',').filter(Boolean)) {
  const eq = kv.indexOf('=');
  if (eq <= 0) {
    console.error(`--env-b: K=V pairs, not ${kv}\n${USAGE}`);
    process.exit(2);
  }
  envB[kv.slice(0, eq)] = kv.slice(eq + 1);
}
const changesB = Object.keys(envB).length > 0;
if (rootB !== undefined || changesB ? levels.length < 1 : levels.length !== 2) {
  console.error(`--log-level: two levels to compare, or one with --root-b or --env-b\n${USAGE}`);
  process.exit(2);
}
if (rootB !== undefined && !existsSync(join(rootB, 'dist', 'apps', 'gateway', 'main.js'))) {
  console.error(`--root-b: ${rootB}/dist/apps/gateway/main.js is missing: build that checkout first\n${USAGE}`);
  process.exit(2);
}
const { setup: pinning } = applyLoadOptions(USAGE, args);

/** ` (<commit>[, modified])` of a checkout, or nothing when git cannot tell. The build is not checked against it. */
function revision(root: string): string {
  try {
    const head = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return ` (${head}${dirty ? ', modified' : ''})`;
  } catch {
    return '';
  }
}

interface Side {
  label: string;
  level: string;
  root: string;
  env?: Record<string, string>;
}
const sides: [Side, Side] =
  rootB === undefined && !changesB
    ? [
        { label: `log=${levels[0]}`, level: levels[0], root: WORKSPACE_ROOT },
        { label: `log=${levels[1]}`, level: levels[1], root: WORKSPACE_ROOT },
      ]
    : [
        { label: `this build${revision(WORKSPACE_ROOT)}`, level: levels[0], root: WORKSPACE_ROOT },
        {
          label: [rootB ? `build of ${rootB}${revision(rootB)}` : `this build${revision(WORKSPACE_ROOT)}`, ...Object.entries(envB).map(([k, v]) => `${k}=${v}`)].join(', '),
          level: levels[0],
          root: rootB ?? WORKSPACE_ROOT,
          env: changesB ? envB : undefined,
        },
      ];

const runStamp = new Date().toISOString().replace(/[:.]/g, '-');
const logDir = resolve(args['log-dir'] ?? join(tmpdir(), 'ml-bench-logs', `paired-${runStamp}`));
const { key: API_KEY, keysEnv: API_KEYS } = benchApiKey();

interface Pair extends GatewayStack {
  side: Side;
}

async function startPair(side: Side, index: number): Promise<Pair> {
  const changes = Object.fromEntries(Object.entries(side.env ?? {}).map(([k, v]) => [k, { value: v, why: '--env-b' }]));
  const stack = await startGatewayStack({ logDir, tag: String(index), keysEnv: API_KEYS, logLevel: side.level, root: side.root, changes });
  return { ...stack, side };
}

interface Sample {
  reqPerSec: number;
  p50: number;
  p99: number;
  failed: number;
  /** Gateway CPU (all its threads) per completed request, µs. */
  gatewayCpuUsPerRequest?: number;
  /** The intent app's CPU per completed request, µs (misses only; a hit never reaches it). */
  appCpuUsPerRequest?: number;
}

/** Measures one pair: its warm-up, then its measured seconds between two /proc snapshots of its processes. */
async function measure(pair: Pair, cursor: QueryCursor): Promise<Sample> {
  const request = {
    connections,
    path: '/predict/intent',
    method: 'POST' as const,
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: () => JSON.stringify({ query: cursor.next() }),
  };
  // Warm-up as a load of its own, so the CPU figures cover the measured seconds only.
  if (warmupSec > 0) await runLoad(pair.gateway.url, { ...request, durationSec: warmupSec, warmupSec: 0 });
  const pids = [pair.gateway.pid, pair.app.pid];
  let before: ReturnType<typeof cpuSnapshot>;
  const r: LoadResult = await runLoad(pair.gateway.url, { ...request, durationSec, warmupSec: 0, onMeasureStart: () => (before = cpuSnapshot(pids)) });
  const after = cpuSnapshot(pids);
  const perRequest = (pid: number) => {
    const cores = coresUsed(before, after, pid);
    return cores === undefined || r.ok === 0 ? undefined : (cores * r.durationSec * 1e6) / r.ok;
  };
  return {
    reqPerSec: r.reqPerSec,
    p50: r.latencyMs.p50,
    p99: r.latencyMs.p99,
    failed: r.non2xx + r.errors + r.timeouts,
    gatewayCpuUsPerRequest: perRequest(pair.gateway.pid),
    appCpuUsPerRequest: perRequest(pair.app.pid),
  };
}

interface Burst {
  scenario: string;
  burst: number;
  order: string;
  a: Sample;
  b: Sample;
}

async function main() {
  const corpus = readCorpus(resolve(WORKSPACE_ROOT, args.corpus ?? ''));
  const startedAt = new Date();
  const load1 = loadavg()[0];
  log(`app logs: ${logDir}`);
  const pairs: Pair[] = [];
  try {
    for (const [i, side] of sides.entries()) {
      log(`starting ${side.label}`);
      pairs.push(await startPair(side, i));
    }
    const results: Burst[] = [];
    for (const scenario of scenarios) {
      // The same query sequence on both sides (each has its own cache): equal work.
      const cursors = pairs.map(() =>
        scenario === 'hit' ? new QueryCursor(new QueryGenerator(corpus, 99), hitPool) : new QueryCursor(new QueryGenerator(corpus, 2)),
      );
      for (let n = 1; n <= bursts; n++) {
        const order = n % 2 === 1 ? [0, 1] : [1, 0];
        const samples: Sample[] = [];
        for (const i of order) samples[i] = await measure(pairs[i], cursors[i]);
        const [a, b] = samples;
        results.push({ scenario, burst: n, order: order.map((i) => 'AB'[i]).join(''), a, b });
        log(`${scenario} burst ${n}: A ${fmt(a.reqPerSec)} req/s, B ${fmt(b.reqPerSec)} req/s, B/A ${fmt(ratio(b.reqPerSec, a.reqPerSec), 3)}`);
      }
    }
    report(results, startedAt, load1, pairs);
  } finally {
    for (const p of pairs) await p.stop();
  }
}

function report(results: Burst[], startedAt: Date, load1: number, pairs: Pair[]) {
  const rows = scenarios.map((scenario) => {
    const mine = results.filter((r) => r.scenario === scenario);
    const ratios = mine.map((r) => ratio(r.b.reqPerSec, r.a.reqPerSec)).filter((x): x is number => x !== undefined).sort((x, y) => x - y);
    const m = (f: (r: Burst) => number | undefined) => median(mine.map(f));
    return {
      scenario: scenario === 'hit' ? 'cache hits' : 'cache misses',
      a: m((r) => r.a.reqPerSec),
      b: m((r) => r.b.reqPerSec),
      ratio: median(ratios),
      low: ratios[0],
      high: ratios[ratios.length - 1],
      cpuA: m((r) => r.a.gatewayCpuUsPerRequest),
      cpuB: m((r) => r.b.gatewayCpuUsPerRequest),
      cpuRatio: median(mine.map((r) => ratio(r.a.gatewayCpuUsPerRequest, r.b.gatewayCpuUsPerRequest))),
      appA: scenario === 'miss' ? m((r) => r.a.appCpuUsPerRequest) : undefined,
      appB: scenario === 'miss' ? m((r) => r.b.appCpuUsPerRequest) : undefined,
      failed: mine.reduce((s, r) => s + r.a.failed + r.b.failed, 0),
    };
  });
  const overrides = pairs.flatMap((p, i) => describeOverrides(`${'AB'[i]} ${p.gateway.name}:`, p.gateway.overrides).concat(describeOverrides(`${'AB'[i]} ${p.app.name}:`, p.app.overrides)));
  const lines = [
    `\npaired benchmark: A = ${sides[0].label}, B = ${sides[1].label}; both pairs up throughout`,
    `c=${connections}, ${bursts} bursts per scenario, each ${durationSec}s of A and ${durationSec}s of B (order alternating) after ${warmupSec}s warm-up each, ` +
      `${cpus().length} cores, load ${load1.toFixed(2)} at the start${pinning ? `, ${pinning}` : ''}`,
    `apps as deployed (k8s/ env, production, ${logsGoTo()} each, under ${logDir}) except:`,
    ...overrides,
    '',
    renderTable(rows, [
      { header: 'scenario', value: (r) => r.scenario, align: 'left' },
      { header: 'A req/s', value: (r) => fmt(r.a), align: 'right' },
      { header: 'B req/s', value: (r) => fmt(r.b), align: 'right' },
      { header: 'B/A (median of bursts)', value: (r) => fmt(r.ratio, 3), align: 'right' },
      { header: 'B/A range', value: (r) => `${fmt(r.low, 2)}-${fmt(r.high, 2)}`, align: 'right' },
      { header: 'gateway CPU us/req A', value: (r) => fmt(r.cpuA, 1), align: 'right' },
      { header: 'B', value: (r) => fmt(r.cpuB, 1), align: 'right' },
      { header: 'A/B CPU', value: (r) => fmt(r.cpuRatio, 3), align: 'right' },
      { header: 'app CPU us/req A', value: (r) => fmt(r.appA, 1), align: 'right' },
      { header: 'B', value: (r) => fmt(r.appB, 1), align: 'right' },
      { header: 'failed', value: (r) => String(r.failed), align: 'right' },
    ]),
    'B/A below 1: B serves less than A. A/B CPU below 1: a request costs the gateway more CPU in B than in A.',
  ];
  console.log(lines.join('\n'));
  mkdirSync(resolve(WORKSPACE_ROOT, args.out ?? ''), { recursive: true });
  const file = resolve(WORKSPACE_ROOT, args.out ?? '', `paired-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ args, deployed: true, sides, pinning, loadAverageBefore: load1, rows, bursts: results }, null, 2)}\n`);
  console.log(`results: ${relative(WORKSPACE_ROOT, file)}`);
}

main().catch((e) => {
  console.error(e);
  killAllChildren();
  process.exit(1);
});
