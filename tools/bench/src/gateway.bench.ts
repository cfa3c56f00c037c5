/**
 * Gateway benchmark: what the front door costs. In one run, on one machine, one target at a time:
 *   - the bare micro-batching node:http + onnxruntime server of the intent benchmark (the baseline),
 *   - the gateway in front of the real intent-classifier app, single queries, every one a cache miss,
 *   - the same gateway answering from its cache (a small pool of queries, warmed first),
 *   - the latency the gateway adds at c=1: gateway -> app against the app alone (pre-opened connections).
 * Both apps run as deployed (k8s/: NODE_ENV=production, LOG_LEVEL=info, ...; logs to files), each its
 * own process, with only the overrides a one-machine benchmark needs, which the report lists.
 * `--log-level info,warn` runs the pair at each level; rounds interleave the configurations
 * (bare, pair@info, pair@warn, then in reverse). `--sweep`: load curves instead.
 *
 *   npx ts-node --transpile-only -P tools/bench/tsconfig.json tools/bench/src/gateway.bench.ts [--duration 10] [--rounds 1] [--log-level info,warn] [--sweep]
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeOverrides } from './lib/deployed';
import { killAllChildren, logsGoTo } from './lib/processes';
import { assertDistinct, QueryCursor, QueryGenerator, readCorpus } from './lib/queries';
import { fmt, median, ratio, renderTable } from './lib/report';
import { runSweep, SWEEP_LEVELS, SWEEP_OPTIONS, writeSweepReport } from './lib/sweep';
import { coresUsed, cpuSnapshot } from './lib/cpu';
import { benchApiKey, startGatewayStack, type GatewayStack } from './lib/gateway-stack';
import { runLoad, startBareServer, WORKSPACE_ROOT, type EnvOverride, type LoadResult, type RunningServer } from './lib/targets';
import { applyLoadOptions, CPU_USAGE, ENGINE_USAGE, log, LOAD_OPTIONS, LOG_OPTIONS } from './lib/cli';
import { freePort } from './lib/processes';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

const USAGE = `usage: gateway.bench.ts [options]
  --duration <s> --warmup <s> --rounds <n> --connections <n>   (10, 3, 1, 32)
  --hit-pool <n>          distinct queries of the cache-hit scenario (200)
  --log-level <list>      LOG_LEVEL of both apps, one configuration per level, e.g. info,warn (info, as deployed)
  --log-dir <dir>         where the apps' log files go (<tmp>/ml-bench-logs/<run>)
  --stores <list>         memory,redis: the stores both apps use, one configuration per store and
                          log level (memory, as embedded; redis = REDIS_URL for both apps)
  --redis-url <url>       Redis of the redis configurations; default: a redis-server of its own on a
                          free port (emptied before every configuration, so misses stay misses)
${CPU_USAGE}
${ENGINE_USAGE}
  --app-cpus <list>       pin the intent classifier to <list> instead of --server-cpus (the gateway
                          and the baseline keep --server-cpus)
  --sweep                 load curves: bare, gateway misses and hits at every --levels concurrency
  --levels <list>         (${SWEEP_LEVELS.join(',')})
  --point-duration <s>    measured seconds per sweep point (3)
  --point-warmup <s>      warm-up seconds per sweep point (1)
  --corpus <dir> --out <dir>`;

const { values: args } = parseArgs({
  options: {
    ...LOAD_OPTIONS,
    'hit-pool': { type: 'string', default: '200' },
    corpus: { type: 'string', default: 'tools/intent-trainer/data/validation' },
    out: { type: 'string', default: 'tools/bench/results' },
    ...LOG_OPTIONS,
    stores: { type: 'string', default: 'memory' },
    'redis-url': { type: 'string' },
    'app-cpus': { type: 'string' },
    ...SWEEP_OPTIONS,
    help: { type: 'boolean', default: false },
  },
});
const durationSec = Number(args.duration);
const warmupSec = Number(args.warmup);
const rounds = Number(args.rounds);
const connections = Number(args.connections);
const logLevels = (args['log-level'] ?? 'info').split(',').map((l) => l.trim()).filter(Boolean);
const stores = (args.stores ?? 'memory').split(',').map((l) => l.trim()).filter(Boolean);
for (const store of stores) {
  if (store !== 'memory' && store !== 'redis') {
    console.error(`--stores: memory or redis, not ${store}\n${USAGE}`);
    process.exit(2);
  }
}
/** One stack configuration per log level and store: `info`, `warn`, `info+redis`, ... */
const stackConfigs = logLevels.flatMap((level) => stores.map((store) => (store === 'memory' ? level : `${level}+redis`)));
const { engine, setup } = applyLoadOptions(USAGE, args);
const pinning = [setup, args['app-cpus'] !== undefined ? `intent classifier pinned to CPU ${args['app-cpus']}` : undefined].filter(Boolean).join(', ') || undefined;
const runStamp = new Date().toISOString().replace(/[:.]/g, '-');
const logDir = resolve(args['log-dir'] ?? join(tmpdir(), 'ml-bench-logs', `gateway-${runStamp}`));
const corpus = () => readCorpus(resolve(WORKSPACE_ROOT, args.corpus ?? ''));

/** A key made for this run: the gateway runs with NODE_ENV=production, so the development key is refused. */
const { key: API_KEY, keysEnv: API_KEYS } = benchApiKey();

function modelPath(): string {
  const dir = join(WORKSPACE_ROOT, 'models', 'intent-classifier');
  const versions = readdirSync(dir).filter((v) => /^\d+\.\d+\.\d+$/.test(v)).sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  return join(dir, versions[0], 'model.onnx');
}

const queryBody = (cursor: QueryCursor) => () => JSON.stringify({ query: cursor.next() });

const load = (url: string, cursor: QueryCursor, over: Partial<Parameters<typeof runLoad>[1]> = {}) =>
  runLoad(url, { connections, durationSec, warmupSec, path: '/predict/intent', method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body: queryBody(cursor), ...over });

type Stack = GatewayStack;

const overridesByApp: Record<string, EnvOverride[]> = {};

/** The intent classifier and the gateway in front of it, each its own process, as deployed. */
async function startStack(config: string, round: number | string): Promise<Stack> {
  const [level, store] = config.split('+');
  const redisUrl = store === 'redis' ? await benchRedis() : undefined;
  const stack = await startGatewayStack({ logDir, tag: `log=${config}-r${round}`, keysEnv: API_KEYS, logLevel: level, redisUrl, appCpus: args['app-cpus'] });
  overridesByApp[`intent-classifier log=${config}`] = stack.app.overrides;
  overridesByApp[`gateway log=${config}`] = stack.gateway.overrides;
  return stack;
}

let ownRedis: { url: string; port: number; child: ChildProcess } | undefined;

/**
 * The Redis of the redis configurations, emptied: `--redis-url` as given (not emptied: keys of
 * earlier configurations can turn misses into hits), else a redis-server of the benchmark's own.
 */
async function benchRedis(): Promise<string> {
  if (args['redis-url']) return args['redis-url'];
  if (!ownRedis) {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    process.once('exit', () => child.kill('SIGKILL'));
    ownRedis = { url: `redis://127.0.0.1:${port}`, port, child };
    for (let i = 0; i < 100; i++) {
      try {
        execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'ignore' });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  execFileSync('redis-cli', ['-p', String(ownRedis.port), 'flushall'], { stdio: 'ignore' });
  return ownRedis.url;
}

/** Cores each process used while a scenario was measured (/proc; undefined elsewhere). */
interface StackCpu {
  gateway?: number;
  /** The gateway's main thread alone: near 1.0, its event loop is what limits the scenario. */
  gatewayEventLoop?: number;
  app?: number;
}

interface StackRound {
  level: string;
  miss: LoadResult;
  hit: LoadResult;
  appC1: LoadResult;
  gatewayC1: LoadResult;
  missCpu?: StackCpu;
  hitCpu?: StackCpu;
}

interface Round {
  round: number;
  bare: LoadResult;
  /** Cores the bare server used while measured. */
  bareCpu?: number;
  stacks: StackRound[];
}

async function measureBare(generator: QueryGenerator): Promise<{ result: LoadResult; cores?: number }> {
  let bareServer: RunningServer | undefined;
  try {
    bareServer = await startBareServer('batched', modelPath());
    const pid = bareServer.pid;
    let before: ReturnType<typeof cpuSnapshot>;
    const result = await load(bareServer.url, new QueryCursor(generator), { onMeasureStart: () => (before = cpuSnapshot([pid])) });
    return { result, cores: coresUsed(before, cpuSnapshot([pid]), pid) };
  } finally {
    await bareServer?.stop();
  }
}

/** Measures a gateway scenario with the CPU the gateway (and its event loop) and the app used meanwhile. */
async function measuredOnStack(stack: Stack, cursor: QueryCursor): Promise<{ result: LoadResult; cpu: StackCpu }> {
  const pids = [stack.gateway.pid, stack.app.pid];
  let before: ReturnType<typeof cpuSnapshot>;
  const result = await load(stack.gateway.url, cursor, { onMeasureStart: () => (before = cpuSnapshot(pids)) });
  const after = cpuSnapshot(pids);
  return {
    result,
    cpu: {
      gateway: coresUsed(before, after, stack.gateway.pid),
      gatewayEventLoop: coresUsed(before, after, stack.gateway.pid, true),
      app: coresUsed(before, after, stack.app.pid),
    },
  };
}

const cpuText = (c: StackCpu | undefined) =>
  c?.gateway === undefined ? '' : `gateway ${fmt(c.gateway, 2)} (event loop ${fmt(c.gatewayEventLoop, 2)}), app ${fmt(c.app, 2)}`;

async function measureStack(level: string, round: number): Promise<StackRound> {
  const stack = await startStack(level, round);
  try {
    // c=1 first, on the fresh pair: after a c=32 load the gateway sheds about every other request
    // at c=1 for a while (503 "overloaded", found 2026-12-04, also with the former non-production
    // settings), which would turn the added-latency figure into a measure of that.
    const c1 = { connections: 1, engine: 'preconnected' as const };
    const appC1 = await load(stack.app.url, new QueryCursor(new QueryGenerator(corpus(), 7)), c1);
    const gatewayC1 = await load(stack.gateway.url, new QueryCursor(new QueryGenerator(corpus(), 8)), c1);
    // Distinct queries (another seed than the baseline's), so every gateway request is a cache miss.
    const { result: miss, cpu: missCpu } = await measuredOnStack(stack, new QueryCursor(new QueryGenerator(corpus(), 2)));
    const hitCursor = new QueryCursor(new QueryGenerator(corpus(), 99), Number(args['hit-pool']));
    const { result: hit, cpu: hitCpu } = await measuredOnStack(stack, hitCursor);
    log(`  log=${level}: miss ${fmt(miss.reqPerSec)} req/s, hit ${fmt(hit.reqPerSec)} req/s, c=1 p50 app ${fmt(appC1.latencyMs.p50, 3)} ms, gateway ${fmt(gatewayC1.latencyMs.p50, 3)} ms`);
    if (missCpu.gateway !== undefined) log(`  log=${level}: cores, misses: ${cpuText(missCpu)}; hits: ${cpuText(hitCpu)}`);
    return { level, miss, hit, appC1, gatewayC1, missCpu, hitCpu };
  } finally {
    await stack.stop();
  }
}

function overridesText(): string[] {
  const entries = Object.entries(overridesByApp);
  const key = (o: EnvOverride) => `${o.name}=${o.bench ?? ''}`;
  // Per app, what every level shares; then what a level adds (LOG_LEVEL).
  return ['intent-classifier', 'gateway'].flatMap((app) => {
    const mine = entries.filter(([id]) => id.startsWith(`${app} `));
    if (mine.length === 0) return [];
    const everywhere = (o: EnvOverride) => mine.every(([, os]) => os.some((x) => key(x) === key(o)));
    return [...describeOverrides(`${app}:`, mine[0][1].filter(everywhere)), ...mine.flatMap(([id, os]) => describeOverrides(`${id}:`, os.filter((o) => !everywhere(o))))];
  });
}

/**
 * Load curves of gateway misses, hits and the bare server. The pair is started afresh for every
 * point and series: a load generator that stops leaves its in-flight requests counted as in flight
 * by the apps' admission control (2026-12-04), and one pair sheds everything after a few points.
 */
async function sweep(generator: QueryGenerator): Promise<void> {
  const startedAt = new Date();
  const level = logLevels[0];
  const levels = (args.levels ?? '').split(',').map((c) => Number(c.trim()));
  const point = { durationSec: Number(args['point-duration']), warmupSec: Number(args['point-warmup']) };
  const bare = await startBareServer('batched', modelPath());
  try {
    const missCursor = new QueryCursor(new QueryGenerator(corpus(), 2));
    const hitCursor = new QueryCursor(new QueryGenerator(corpus(), 99), Number(args['hit-pool']));
    const bareCursor = new QueryCursor(generator);
    const onFreshPair = (cursor: QueryCursor, tag: string) => async (c: number) => {
      const stack = await startStack(level, `sweep-${tag}-c${c}`);
      try {
        return await load(stack.gateway.url, cursor, { connections: c, ...point });
      } finally {
        await stack.stop();
      }
    };
    const series = await runSweep(
      [
        { name: 'gateway -> app, cache misses', load: onFreshPair(missCursor, 'miss') },
        { name: 'gateway, cache hits', load: onFreshPair(hitCursor, 'hit') },
        { name: 'bare-batched (baseline)', baseline: true, load: (c) => load(bare.url, bareCursor, { connections: c, ...point }) },
      ],
      levels,
    );
    const overrides = overridesText().map((l) => l.trim());
    const page = writeSweepReport(resolve(WORKSPACE_ROOT, args.out ?? ''), {
      stem: `gateway-sweep-${runStamp}`,
      title: 'Gateway',
      notes: [
        `\`npm run bench:gateway -- --sweep\` on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, ` +
          `1-minute load average ${loadavg()[0].toFixed(2)} at the start (a shared machine: absolute figures move, compare the lines).`,
        `Closed loop, ${engine}, \`POST /predict/intent\` with an API key; ${point.durationSec} s measured after ${point.warmupSec} s warm-up per point; ` +
          `the series measured one at a time, their order alternating from one point to the next. Misses: every query distinct (the deployed 10,000-entry cache evicts). ` +
          `Hits: a pool of ${args['hit-pool']} queries, warmed by the point's warm-up. ${engine} opens its connections when measuring starts, so at high concurrency connection set-up lands in the first latencies (p99).`,
        `The gateway and the intent classifier each run in their own process as deployed (k8s/: NODE_ENV=production, LOG_LEVEL=${level}, ConfigMap, Secret and Deployment env, ${logsGoTo()} each), ` +
          `started afresh for every point of the gateway series (a stopped load generator's in-flight requests stay counted by the apps' admission control, which after a few points on one pair shed every request), except:`,
        overrides.map((o) => `- ${o}`).join('\n'),
        `The baseline is \`bare-server.ts --kind batched\`: node:http, one ONNX session, one run for whatever arrived within 1 ms (at most 32), no gateway; it runs throughout.`,
      ],
      series,
      meta: { benchmark: 'gateway-sweep', startedAt: startedAt.toISOString(), args, overrides: overridesByApp },
    });
    console.log(`\nsweep page: ${relative(WORKSPACE_ROOT, page)}`);
  } finally {
    await bare.stop();
  }
}

async function main() {
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const generator = new QueryGenerator(corpus(), 1);
  assertDistinct(generator, 20_000);
  log(`app logs: ${logDir}`);
  if (args.sweep) return sweep(generator);
  const startedAt = new Date();
  const load1 = loadavg()[0];
  const results: Round[] = [];
  // Configurations in order, every other round reversed: bare, pair@info, pair@warn / pair@warn, pair@info, bare.
  const configs = ['bare', ...stackConfigs];
  for (let r = 1; r <= rounds; r++) {
    const round: Round = { round: r, bare: undefined as unknown as LoadResult, stacks: [] };
    for (const config of r % 2 === 1 ? configs : [...configs].reverse()) {
      log(`round ${r}: ${config === 'bare' ? 'bare micro-batching server' : `gateway -> intent-classifier, log=${config}`}`);
      if (config === 'bare') ({ result: round.bare, cores: round.bareCpu } = await measureBare(generator));
      else round.stacks.push(await measureStack(config, r));
    }
    results.push(round);
  }
  const m = (f: (x: Round) => number | undefined) => median(results.map(f));
  const bare = m((x) => x.bare.reqPerSec);
  const s = (x: Round, level: string) => x.stacks.find((st) => st.level === level);
  const failed = (r: LoadResult) => r.non2xx + r.errors + r.timeouts;
  const bareCores = m((x) => x.bareCpu);
  const rows = [
    {
      target: 'bare micro-batching server (baseline)',
      rps: bare,
      p50: m((x) => x.bare.latencyMs.p50),
      p99: m((x) => x.bare.latencyMs.p99),
      failed: results.reduce((a, x) => a + failed(x.bare), 0),
      cores: bareCores === undefined ? '' : `server ${fmt(bareCores, 2)}`,
    },
  ];
  for (const level of stackConfigs) {
    const row = (target: string, f: (st: StackRound) => LoadResult, cpu?: (st: StackRound) => StackCpu | undefined) => {
      const cores = (k: keyof StackCpu) => m((x) => (s(x, level) && cpu ? cpu(s(x, level) as StackRound)?.[k] : undefined));
      return {
        target: `${target} (log=${level})`,
        rps: m((x) => (s(x, level) ? f(s(x, level) as StackRound).reqPerSec : undefined)),
        p50: m((x) => (s(x, level) ? f(s(x, level) as StackRound).latencyMs.p50 : undefined)),
        p99: m((x) => (s(x, level) ? f(s(x, level) as StackRound).latencyMs.p99 : undefined)),
        failed: results.reduce((a, x) => a + (s(x, level) ? failed(f(s(x, level) as StackRound)) : 0), 0),
        cores: cpuText({ gateway: cores('gateway'), gatewayEventLoop: cores('gatewayEventLoop'), app: cores('app') }),
      };
    };
    rows.push(
      row('gateway -> app, cache misses', (st) => st.miss, (st) => st.missCpu),
      row('gateway, cache hits', (st) => st.hit, (st) => st.hitCpu),
      row('app alone, c=1', (st) => st.appC1),
      row('gateway -> app, c=1', (st) => st.gatewayC1),
    );
  }
  const added = Object.fromEntries(
    stackConfigs.map((level) => [level, m((x) => (s(x, level) ? (s(x, level) as StackRound).gatewayC1.latencyMs.p50 - (s(x, level) as StackRound).appC1.latencyMs.p50 : undefined))]),
  );
  const pairRatio = (a: string, b: string, what: string) =>
    stackConfigs.includes(a) && stackConfigs.includes(b)
      ? (['miss', 'hit'] as const).map((k) => ({
          name: `cache ${k === 'miss' ? 'misses' : 'hits'}: ${a} / ${b} (req/s)`,
          what,
          value: ratio(
            m((x) => s(x, a)?.[k].reqPerSec),
            m((x) => s(x, b)?.[k].reqPerSec),
          ),
        }))
      : [];
  const levelRatios = [
    ...pairRatio('info', 'warn', 'what the access log at info costs; 1 = nothing'),
    ...pairRatio('info+redis', 'info', 'Redis stores against in-memory ones'),
  ];
  const lines = [
    `\ngateway benchmark: c=${connections}, ${durationSec}s per scenario after ${warmupSec}s warm-up, ${rounds} round(s), medians, ${cpus().length} cores, load ${load1.toFixed(2)} at the start`,
    ...(pinning ? [`CPU: ${pinning}`] : []),
    `apps as deployed (k8s/: NODE_ENV=production, ConfigMap, Secret and Deployment env, logs to files under ${logDir}) except:`,
    ...overridesText(),
    '',
    renderTable(rows, [
      { header: 'target', value: (r) => r.target, align: 'left' },
      { header: 'req/s', value: (r) => fmt(r.rps), align: 'right' },
      { header: 'x baseline', value: (r) => (r.target.includes('c=1') ? '' : fmt(ratio(r.rps, bare), 2)), align: 'right' },
      { header: 'p50 ms', value: (r) => fmt(r.p50, 3), align: 'right' },
      { header: 'p99 ms', value: (r) => fmt(r.p99, 3), align: 'right' },
      { header: 'failed (all rounds)', value: (r) => String(r.failed), align: 'right' },
      { header: 'cores (medians; event loop near 1.00 = the limit)', value: (r) => r.cores, align: 'left' },
    ]),
    ...stackConfigs.map((level) => `latency the gateway adds at c=1 (p50, log=${level}): ${fmt(added[level], 3)} ms`),
    ...levelRatios.map((r) => `${r.name}: ${fmt(r.value, 2)} (${r.what})`),
  ];
  console.log(lines.join('\n'));
  const errors = results.flatMap((x) => x.stacks.flatMap((st) => [st.miss, st.hit, st.gatewayC1])).reduce((a, r) => a + r.non2xx + r.errors, 0);
  console.log(`non-2xx or errors through the gateway: ${errors}`);
  mkdirSync(resolve(WORKSPACE_ROOT, args.out ?? ''), { recursive: true });
  const file = resolve(WORKSPACE_ROOT, args.out ?? '', `gateway-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ args, deployed: true, pinning, overrides: overridesByApp, rows, addedLatencyMsP50: added, logLevelRatios: levelRatios, loadAverageBefore: load1, rounds: results }, null, 2)}\n`,
  );
  console.log(`results: ${relative(WORKSPACE_ROOT, file)}`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    killAllChildren();
    ownRedis?.child.kill('SIGKILL');
  });
