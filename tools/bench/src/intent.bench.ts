/**
 * Intent classifier benchmark: what the real app (Nest on Fastify, batching scheduler, worker
 * threads, metrics, validation) costs compared with the least code that can serve the same ONNX
 * file: a bare node:http server with one `session.run` per request, and one with the simplest
 * micro-batching. Every target runs as its own child process, one at a time, under the same
 * closed-loop load of distinct, realistic queries. See tools/bench/README.md.
 *
 *   npx ts-node --transpile-only -P tools/bench/tsconfig.json tools/bench/src/intent.bench.ts \
 *     [--duration 10] [--rounds 3] [--workers 0,1,2] [--tails]
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { applyLoadOptions, checkAnswers, CPU_USAGE, ENGINE_USAGE, highestModelVersion, log, positiveOption, LOAD_OPTIONS, LOG_OPTIONS } from './lib/cli';
import { cpuBetween, cpuSnapshot, otherLoad, type CpuUsage } from './lib/cpu';
import { scrapeBatchCounters, meanBatchBetween } from './lib/metrics';
import { killAllChildren, logsGoTo, rssMb } from './lib/processes';
import { assertDistinct, QueryCursor, QueryGenerator, readCorpus } from './lib/queries';
import { fmt, median, ratio, renderTable, type Column } from './lib/report';
import { deployedEnv, describeOverrides } from './lib/deployed';
import { runSweep, SWEEP_LEVELS, SWEEP_OPTIONS, writeSweepReport } from './lib/sweep';
import {
  bareStats,
  DEPLOYED_NODE_OPTIONS,
  runLoad,
  startBareServer,
  startDeployedApp,
  WORKSPACE_ROOT,
  type EnvChange,
  type EnvOverride,
  type LoadResult,
  type RunningServer,
} from './lib/targets';

const MODEL = 'intent-classifier';
const DEPLOYED = DEPLOYED_NODE_OPTIONS[MODEL];
const USAGE = `usage: intent.bench.ts [options]
  --duration <s>           measured seconds per scenario (10)
  --warmup <s>             unmeasured seconds before each scenario (3)
  --rounds <n>             repeat everything n times, report medians (1)
  --connections <n>        concurrency of the single-query scenario (32)
  --workers <list>         INFERENCE_WORKERS values for the app, e.g. 0,1,2 (1, the app's default)
  --intra-op-threads <n>   INFERENCE_INTRA_OP_THREADS of the app (default: what its Deployment sets,
                           else the app's default, 2)
  --node-options <flags>   NODE_OPTIONS of the app (${DEPLOYED}, as its deployments
                           and npm start set it; '' for none)
  --log-level <list>       LOG_LEVEL of the app, one app target per level, e.g. info,warn (info, as
                           deployed); the app otherwise runs with its k8s/ env (NODE_ENV=production,
                           ...), its logs appended to a file under --log-dir
  --log-dir <dir>          where the apps' log files go (<tmp>/ml-bench-logs/<run>)
${CPU_USAGE}
${ENGINE_USAGE}
  --sweep                  load curves instead: bare-batched and the app (first --workers and
                           --log-level) at every --levels concurrency, a page with charts in --out
  --levels <list>          sweep concurrencies (${SWEEP_LEVELS.join(',')})
  --point-duration <s>     measured seconds per sweep point (3)
  --point-warmup <s>       warm-up seconds per sweep point (1)
  --targets <list>         which of bare-once,bare-batched,inprocess,app to run (all)
  --batch-size <n>         queries per /predict/intent/batch request, and per in-process run (256)
  --batch-connections <n>  concurrency of the batch-endpoint scenario (4: 4 x 256 queries stay under the app's 2,048-item queue)
  --no-batch               skip the batch-endpoint scenario
  --tails                  add a c=<tail-connections> scenario on pre-opened connections
  --tail-connections <n>   (128)
  --model-dir <dir>        models root (models); the highest version of ${MODEL} is used
  --model-version <v>      pin a version
  --wait-for-model <s>     poll this long for the model to appear (0)
  --corpus <dir>           *.tsv texts the queries are made from (tools/intent-trainer/data/validation)
  --seed <n>               query generator seed (1)
  --max-other-load <cores> before each target, wait until the rest of the machine uses less CPU
  --max-wait <s>           but no longer than this (600)
  --out <dir>              where the JSON results go (tools/bench/results)
  --report <file.json>     print the tables of an earlier run's results file, run nothing`;

const { values: args } = parseArgs({
  options: {
    ...LOAD_OPTIONS,
    workers: { type: 'string', default: '1' },
    'intra-op-threads': { type: 'string' },
    'node-options': { type: 'string', default: DEPLOYED },
    ...LOG_OPTIONS,
    ...SWEEP_OPTIONS,
    targets: { type: 'string', default: 'bare-once,bare-batched,inprocess,app' },
    'batch-size': { type: 'string', default: '256' },
    'batch-connections': { type: 'string', default: '4' },
    'no-batch': { type: 'boolean', default: false },
    tails: { type: 'boolean', default: false },
    'tail-connections': { type: 'string', default: '128' },
    'model-dir': { type: 'string', default: 'models' },
    'model-version': { type: 'string' },
    'wait-for-model': { type: 'string', default: '0' },
    corpus: { type: 'string', default: 'tools/intent-trainer/data/validation' },
    seed: { type: 'string', default: '1' },
    'max-other-load': { type: 'string' },
    'max-wait': { type: 'string', default: '600' },
    out: { type: 'string', default: 'tools/bench/results' },
    report: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});


const positive = (name: string, text: string | undefined, allowZero = false) => positiveOption(USAGE, name, text, allowZero);
const { engine, setup: pinning } = applyLoadOptions(USAGE, args);

const opts = {
  durationSec: positive('duration', args.duration),
  warmupSec: positive('warmup', args.warmup, true),
  rounds: Math.round(positive('rounds', args.rounds)),
  connections: Math.round(positive('connections', args.connections)),
  workers: (args.workers ?? '1').split(',').map((w) => Math.round(positive('workers', w.trim(), true))),
  intraOpThreads: args['intra-op-threads'] === undefined ? undefined : Math.round(positive('intra-op-threads', args['intra-op-threads'])),
  nodeOptions: args['node-options'] ?? DEPLOYED,
  logLevels: (args['log-level'] ?? 'info').split(',').map((l) => l.trim()).filter(Boolean),
  logDir: resolve(args['log-dir'] ?? join(tmpdir(), 'ml-bench-logs', `intent-${new Date().toISOString().replace(/[:.]/g, '-')}`)),
  sweep: args.sweep === true,
  levels: (args.levels ?? '').split(',').map((c) => Math.round(positive('levels', c.trim()))),
  pointDurationSec: positive('point-duration', args['point-duration']),
  pointWarmupSec: positive('point-warmup', args['point-warmup'], true),
  targets: new Set((args.targets ?? '').split(',').map((t) => t.trim())),
  batchSize: Math.round(positive('batch-size', args['batch-size'])),
  batchConnections: Math.round(positive('batch-connections', args['batch-connections'])),
  batch: !args['no-batch'],
  tails: args.tails === true,
  tailConnections: Math.round(positive('tail-connections', args['tail-connections'])),
  modelDir: resolve(WORKSPACE_ROOT, args['model-dir'] ?? 'models'),
  modelVersion: args['model-version'],
  waitForModelSec: positive('wait-for-model', args['wait-for-model'], true),
  corpus: resolve(WORKSPACE_ROOT, args.corpus ?? ''),
  seed: Math.round(positive('seed', args.seed, true)),
  maxOtherLoad: args['max-other-load'] === undefined ? undefined : positive('max-other-load', args['max-other-load']),
  maxWaitSec: positive('max-wait', args['max-wait'], true),
  out: resolve(WORKSPACE_ROOT, args.out ?? ''),
};

type Scenario = 'single' | 'batch' | 'tails';

/** `session.run` in-process on batches (tools/bench/src/inprocess.ts): the ceiling for batch work. */
interface InProcessResult {
  batch: number;
  threads: number;
  predictionsPerSec: number;
  tried: Array<{ threads: number; predictionsPerSec: number }>;
}

interface Target {
  id: string;
  kind: 'bare-once' | 'bare-batched' | 'app';
  workers?: number;
  logLevel?: string;
  start(round: number): Promise<RunningServer>;
}

/** How each app target's env differs from its k8s/ Deployment's (filled when it starts). */
const overridesByTarget: Record<string, EnvOverride[]> = {};

interface Measurement {
  round: number;
  target: string;
  scenario: Scenario;
  path: string;
  /** Mean items per ONNX run during the measured phase, when the target reports it. */
  meanBatch?: number;
  /** Distinct queries this target instance had received by the end of the scenario. */
  queriesSent: number;
  /** Cores used during the measured phase by the server, the load generator, and everything else. */
  cpu?: CpuUsage;
  load: LoadResult;
}

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


async function resolveModel(): Promise<{ version: string; path: string; manifest: Record<string, unknown> }> {
  const dir = join(opts.modelDir, MODEL);
  const deadline = Date.now() + opts.waitForModelSec * 1000;
  for (;;) {
    const version = opts.modelVersion ?? highestModelVersion(dir);
    if (version && existsSync(join(dir, version, 'model.onnx')) && existsSync(join(dir, version, 'manifest.json'))) {
      const manifest = JSON.parse(readFileSync(join(dir, version, 'manifest.json'), 'utf8')) as Record<string, unknown>;
      return { version, path: join(dir, version, 'model.onnx'), manifest };
    }
    if (Date.now() >= deadline) throw new Error(`no ${MODEL} model under ${dir}${opts.modelVersion ? ` (version ${opts.modelVersion})` : ''}`);
    log(`waiting for ${dir}/<version>/model.onnx ...`);
    await sleep(15_000);
  }
}


/** Waits (bounded) until the rest of the machine is quiet enough, when asked to. */
async function waitForQuiet(): Promise<void> {
  if (opts.maxOtherLoad === undefined) return;
  const deadline = Date.now() + opts.maxWaitSec * 1000;
  for (;;) {
    const other = await otherLoad();
    if (other === undefined || other <= opts.maxOtherLoad) return;
    if (Date.now() >= deadline) {
      log(`  other processes still use ${other.toFixed(2)} cores; measuring anyway`);
      return;
    }
    log(`  other processes use ${other.toFixed(2)} cores (> ${opts.maxOtherLoad}); waiting`);
    await sleep(5_000);
  }
}

/** A target process's start-up time and memory, once per round. */
interface ProcessFigures {
  round: number;
  target: string;
  startToReadyMs: number;
  rssAtReadyMb?: number;
  /** After every scenario of the round: the figure the memory target is about. */
  rssAfterLoadMb?: number;
  /** The app's log file (stdout and stderr) and its size after the round. */
  logFile?: string;
  logBytes?: number;
}

async function measureTarget(target: Target, round: number, generator: QueryGenerator, processes: ProcessFigures[]): Promise<Measurement[]> {
  await waitForQuiet();
  log(`round ${round}: starting ${target.id}`);
  const server = await target.start(round);
  const figures: ProcessFigures = { round, target: target.id, startToReadyMs: server.startToReadyMs, rssAtReadyMb: rssMb(server.pid) };
  log(`  ${target.id}: ready ${fmt(figures.startToReadyMs)} ms after spawn, RSS ${fmt(figures.rssAtReadyMb)} MB`);
  const cursor = new QueryCursor(generator);
  const single = () => JSON.stringify({ query: cursor.next() });
  const batch = () => JSON.stringify({ queries: Array.from({ length: opts.batchSize }, () => cursor.next()) });
  const out: Measurement[] = [];
  try {
    await checkAnswers(server.url, '/predict/intent', single(), 'intent');

    // Mean batch size over the measured phase only: counters read after the warm-up and after.
    const batchCounters = async () => {
      if (target.kind === 'app') return scrapeBatchCounters(server.url, MODEL);
      if (target.kind === 'bare-batched' || target.kind === 'bare-once') {
        const s = await bareStats(server.url);
        return { sum: s.items, count: s.runs };
      }
      return undefined;
    };

    const scenario = async (name: Scenario, path: string, connections: number, body: () => string, itemsPerRequest: number) => {
      const loadEngine = name === 'tails' ? ('preconnected' as const) : engine;
      // wrk and autocannon open fresh connections per run, so their warm-up is a separate run; the
      // preconnected engine warms on the connections it then measures.
      if (loadEngine !== 'preconnected' && opts.warmupSec > 0) {
        await runLoad(server.url, { connections, durationSec: opts.warmupSec, path, body, itemsPerRequest });
      }
      const before = await batchCounters();
      let cpuBefore: ReturnType<typeof cpuSnapshot>;
      const load = await runLoad(server.url, {
        onMeasureStart: () => (cpuBefore = cpuSnapshot([server.pid, process.pid])),
        connections,
        durationSec: opts.durationSec,
        warmupSec: loadEngine === 'preconnected' ? Math.max(1, opts.warmupSec) : 0,
        path,
        body,
        itemsPerRequest,
        engine: loadEngine,
      });
      const cpu = cpuBetween(cpuBefore, cpuSnapshot([server.pid, process.pid]), server.pid);
      const after = await batchCounters();
      const m: Measurement = { round, target: target.id, scenario: name, path, meanBatch: meanBatchBetween(before, after), queriesSent: cursor.used, cpu, load };
      log(
        `  ${target.id} ${name} c=${connections}: ${fmt(load.reqPerSec)} req/s, ${fmt(load.itemsPerSec)} queries/s, ` +
          `p50 ${fmt(load.latencyMs.p50, 2)} ms, p99 ${fmt(load.latencyMs.p99, 2)} ms, mean batch ${fmt(m.meanBatch, 1)}` +
          (cpu
            ? `, cores: server ${cpu.server.toFixed(2)}${cpu.serverEventLoop === undefined ? '' : ` (event loop ${cpu.serverEventLoop.toFixed(2)})`} driver ${cpu.driver.toFixed(2)} other ${cpu.other.toFixed(2)}`
            : '') +
          (load.non2xx + load.errors + load.timeouts ? `, non2xx ${load.non2xx} errors ${load.errors} timeouts ${load.timeouts}` : ''),
      );
      out.push(m);
    };

    await scenario('single', '/predict/intent', opts.connections, single, 1);
    if (opts.batch && target.kind === 'app') {
      await checkAnswers(server.url, '/predict/intent/batch', batch(), 'predictions');
      await scenario('batch', '/predict/intent/batch', opts.batchConnections, batch, opts.batchSize);
    }
    if (opts.tails) await scenario('tails', '/predict/intent', opts.tailConnections, single, 1);
    figures.rssAfterLoadMb = rssMb(server.pid);
    log(`  ${target.id}: RSS after load ${fmt(figures.rssAfterLoadMb)} MB`);
    figures.logFile = (server as RunningServer & { logFile?: string }).logFile;
    processes.push(figures);
  } finally {
    await server.stop();
  }
  if (figures.logFile && existsSync(figures.logFile)) {
    figures.logBytes = statSync(figures.logFile).size;
    log(`  ${target.id}: log ${figures.logFile}: ${fmt(figures.logBytes)} bytes`);
  }
  return out;
}

interface Summary {
  target: string;
  scenario: Scenario;
  connections: number;
  reqPerSec?: number;
  queriesPerSec?: number;
  p50?: number;
  p99?: number;
  meanBatch?: number;
  serverCores?: number;
  /** Of serverCores, the server's main thread (its event loop). */
  eventLoopCores?: number;
  /** Queries per second per core the server used: efficiency, less sensitive to a noisy machine. */
  queriesPerCoreSec?: number;
  otherCores?: number;
  failures: number;
  rounds: number;
}

/** Runs inprocess.ts as a child process (the machine to itself, like the servers) and reads its one JSON line. */
async function measureInProcess(modelPath: string, round: number): Promise<{ round: number; result: InProcessResult }> {
  await waitForQuiet();
  log(`round ${round}: in-process session.run on batches of ${opts.batchSize}`);
  const { stdout } = await execFileAsync(
    process.execPath,
    [
      '-r',
      require.resolve('ts-node/register/transpile-only'),
      join(__dirname, 'inprocess.ts'),
      '--model',
      modelPath,
      '--batch',
      String(opts.batchSize),
      '--duration',
      String(opts.durationSec),
      '--warmup',
      String(Math.max(1, opts.warmupSec)),
      '--corpus',
      opts.corpus,
    ],
    { cwd: WORKSPACE_ROOT, env: { PATH: process.env['PATH'] ?? '', TS_NODE_PROJECT: join(WORKSPACE_ROOT, 'tools', 'bench', 'tsconfig.json') }, maxBuffer: 1 << 20 },
  );
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as InProcessResult;
  log(`  in-process batch ${result.batch}: ${fmt(result.predictionsPerSec)} predictions/s (${result.tried.map((t) => `${t.threads} thread(s) ${fmt(t.predictionsPerSec)}`).join(', ')})`);
  return { round, result };
}

function summarise(measurements: Measurement[]): Summary[] {
  const out: Summary[] = [];
  const targetIds = [...new Set(measurements.map((m) => m.target))];
  for (const scenario of ['single', 'batch', 'tails'] as const) {
    for (const id of targetIds) {
      const ms = measurements.filter((m) => m.target === id && m.scenario === scenario);
      if (ms.length === 0) continue;
      out.push({
        target: id,
        scenario,
        connections: ms[0].load.connections,
        reqPerSec: median(ms.map((m) => m.load.reqPerSec)),
        queriesPerSec: median(ms.map((m) => m.load.itemsPerSec)),
        p50: median(ms.map((m) => m.load.latencyMs.p50)),
        p99: median(ms.map((m) => m.load.latencyMs.p99)),
        meanBatch: median(ms.map((m) => m.meanBatch)),
        serverCores: median(ms.map((m) => m.cpu?.server)),
        eventLoopCores: median(ms.map((m) => m.cpu?.serverEventLoop)),
        queriesPerCoreSec: median(ms.map((m) => (m.cpu && m.cpu.server > 0 ? m.load.itemsPerSec / m.cpu.server : undefined))),
        otherCores: median(ms.map((m) => m.cpu?.other)),
        failures: ms.reduce((a, m) => a + m.load.non2xx + m.load.errors + m.load.timeouts, 0),
        rounds: ms.length,
      });
    }
  }
  return out;
}

interface Ratio {
  name: string;
  value?: number;
  meaning: string;
}

interface RatioParams {
  connections: number;
  tailConnections: number;
  batchSize: number;
}

/**
 * `inProcess`: the best in-process rate (1 or 2 threads, whichever was faster); `inProcessByThreads`:
 * the rate with each thread count, for the like-for-like ratio of an app running `intra=<n>` threads.
 */
function ratios(summary: Summary[], p: RatioParams, inProcess?: number, inProcessByThreads: Map<number, number> = new Map()): Ratio[] {
  const get = (target: string, scenario: Scenario) => summary.find((s) => s.target === target && s.scenario === scenario);
  const once = get('bare-once', 'single');
  const batched = get('bare-batched', 'single');
  const out: Ratio[] = [];
  const appIds = [...new Set(summary.filter((s) => s.target.startsWith('app')).map((s) => s.target))];
  for (const id of appIds) {
    const app = get(id, 'single');
    out.push(
      { name: `${id} / bare-once (req/s, c=${p.connections})`, value: ratio(app?.reqPerSec, once?.reqPerSec), meaning: 'above 1: the app batches better than the app layers cost' },
      { name: `${id} / bare-batched (req/s, c=${p.connections})`, value: ratio(app?.reqPerSec, batched?.reqPerSec), meaning: 'share of the bare batching ceiling the app keeps' },
      {
        name: `${id} / bare-batched (queries per core-second)`,
        value: ratio(app?.queriesPerCoreSec, batched?.queriesPerCoreSec),
        meaning: 'CPU efficiency; 1 / value = CPU cost multiple per query',
      },
      { name: `${id} / bare-batched (p99, c=${p.connections})`, value: ratio(app?.p99, batched?.p99), meaning: 'tail latency multiple' },
    );
    const appBatch = get(id, 'batch');
    if (appBatch) {
      out.push({
        name: `${id} batch endpoint / bare-batched (queries/s)`,
        value: ratio(appBatch.queriesPerSec, batched?.queriesPerSec),
        meaning: `${p.batchSize} queries per request vs single queries micro-batched`,
      });
      if (inProcess !== undefined) {
        out.push({
          name: `${id} batch endpoint / in-process session.run (predictions/s)`,
          value: ratio(appBatch.queriesPerSec, inProcess),
          meaning: `${p.batchSize} per request over HTTP vs ${p.batchSize}-row runs with no server (target >= 0.80)`,
        });
      }
      const threads = Number(/ intra=(\d+)/.exec(id)?.[1]);
      const sameThreads = inProcessByThreads.get(threads);
      if (sameThreads !== undefined) {
        out.push({
          name: `${id} batch endpoint / in-process session.run with ${threads} thread(s) (predictions/s)`,
          value: ratio(appBatch.queriesPerSec, sameThreads),
          meaning: `the same, against runs on as many onnxruntime threads as the app has (its deployment's CPU limit)`,
        });
      }
    }
    const warnId = id.replace(/ log=info$/, ' log=warn');
    const warn = warnId !== id ? get(warnId, 'single') : undefined;
    if (warn) {
      out.push(
        { name: `${id} / ${warnId} (req/s, c=${p.connections})`, value: ratio(app?.reqPerSec, warn.reqPerSec), meaning: 'what the access log at info costs; 1 = nothing' },
        { name: `${id} / ${warnId} (p99, c=${p.connections})`, value: ratio(app?.p99, warn.p99), meaning: 'tail latency multiple of the access log' },
      );
    }
    const appTails = get(id, 'tails');
    const batchedTails = get('bare-batched', 'tails');
    if (appTails && batchedTails) {
      out.push({ name: `${id} / bare-batched (p99, c=${p.tailConnections})`, value: ratio(appTails.p99, batchedTails.p99), meaning: 'tail latency multiple at high concurrency' });
    }
  }
  return out;
}

/** What a run writes (and `--report` reads back): enough to rebuild every table. */
interface SavedResult {
  benchmark: 'intent';
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel?: string; node: string; platform: string; loadAverageBefore: number; pinning?: string };
  model: { name: string; version: string; path: string; sha256: unknown };
  options: { durationSec: number; warmupSec: number; rounds: number; connections: number; tailConnections: number; batchSize: number } & Record<string, unknown>;
  measurements: Measurement[];
  /** Start-up time and RSS of each target process, per round. */
  processes?: ProcessFigures[];
  /** In-process `session.run` on batches of batchSize, per round (absent when not run). */
  inProcess?: Array<{ round: number; result: InProcessResult }>;
  /** Per app target: how its env differs from its k8s/ Deployment's (absent in runs before the deployed default). */
  overrides?: Record<string, EnvOverride[]>;
}

/** The overrides every app target shares, then each target's own. */
function compactOverrides(byTarget: Record<string, EnvOverride[]>): string[] {
  const entries = Object.entries(byTarget);
  if (entries.length === 0) return [];
  const key = (o: EnvOverride) => `${o.name}=${o.bench ?? ''}`;
  const everywhere = (o: EnvOverride) => entries.every(([, os]) => os.some((x) => key(x) === key(o)));
  return [
    ...describeOverrides(entries.length > 1 ? 'every app:' : `${entries[0][0]}:`, entries[0][1].filter(everywhere)),
    ...entries.flatMap(([id, os]) => describeOverrides(`${id}:`, os.filter((o) => !everywhere(o)))),
  ];
}

function buildReport(result: SavedResult): { text: string; summary: Summary[]; ratios: Ratio[]; fastestApp?: string } {
  const o = result.options;
  const summary = summarise(result.measurements);
  const inProcess = median((result.inProcess ?? []).map((r) => r.result.predictionsPerSec));
  const byThreads = new Map<number, number>();
  for (const threads of new Set((result.inProcess ?? []).flatMap((r) => r.result.tried.map((t) => t.threads)))) {
    const rate = median((result.inProcess ?? []).flatMap((r) => r.result.tried.filter((t) => t.threads === threads).map((t) => t.predictionsPerSec)));
    if (rate !== undefined) byThreads.set(threads, rate);
  }
  const ratioRows = ratios(summary, o, inProcess, byThreads);
  const columns: Column<Summary>[] = [
    { header: 'target', value: (s) => s.target, align: 'left' },
    { header: 'scenario', value: (s) => `${s.scenario} c=${s.connections}`, align: 'left' },
    { header: 'req/s', value: (s) => fmt(s.reqPerSec) },
    { header: 'queries/s', value: (s) => fmt(s.queriesPerSec) },
    { header: 'p50 ms', value: (s) => fmt(s.p50, 2) },
    { header: 'p99 ms', value: (s) => fmt(s.p99, 2) },
    { header: 'mean batch', value: (s) => fmt(s.meanBatch, 1) },
    { header: 'server cores', value: (s) => fmt(s.serverCores, 2) },
    { header: 'event loop', value: (s) => fmt(s.eventLoopCores, 2) },
    { header: 'queries/core-s', value: (s) => fmt(s.queriesPerCoreSec) },
    { header: 'other cores', value: (s) => fmt(s.otherCores, 2) },
    { header: 'failed', value: (s) => String(s.failures) },
  ];
  const apps = summary.filter((s) => s.scenario === 'single' && s.target.startsWith('app'));
  const fastest = apps.reduce<Summary | undefined>((best, s) => ((s.reqPerSec ?? 0) > (best?.reqPerSec ?? -1) ? s : best), undefined);
  const m = result.machine;
  const lines = [
    '',
    `Intent classifier benchmark: model ${result.model.name}@${result.model.version}, ${m.cpus} CPUs (${m.cpuModel ?? '?'}), node ${m.node}`,
    `${o.durationSec} s measured after ${o.warmupSec} s warm-up per scenario; ${o.rounds} round(s), medians; every request a distinct query`,
    ...(m.pinning ? [`CPU: ${m.pinning}`] : []),
    `server cores / other cores: CPU used by the target process / by everything else but the load generator (noise); event loop: the target's main thread alone (near 1.00: it is the limit)`,
    result.overrides
      ? `apps as deployed (k8s/: NODE_ENV=production, the ConfigMap and Deployment env, ${logsGoTo()}) except:`
      : `apps with LOG_LEVEL=warn, logs piped to the benchmark (run before the deployed default)`,
    ...compactOverrides(result.overrides ?? {}),
    '',
    renderTable(summary, columns),
  ];
  const procs = result.processes ?? [];
  if (procs.length > 0) {
    const rows = [...new Set(procs.map((p) => p.target))].map((target) => {
      const ps = procs.filter((p) => p.target === target);
      return {
        target,
        ready: median(ps.map((p) => p.startToReadyMs)),
        rssReady: median(ps.map((p) => p.rssAtReadyMb)),
        rssAfter: median(ps.map((p) => p.rssAfterLoadMb)),
      };
    });
    lines.push(
      '',
      renderTable(rows, [
        { header: 'target', value: (r) => r.target, align: 'left' },
        { header: 'spawn to ready ms', value: (r) => fmt(r.ready) },
        { header: 'RSS at ready MB', value: (r) => fmt(r.rssReady) },
        { header: 'RSS after load MB', value: (r) => fmt(r.rssAfter) },
        { header: 'targets (app)', value: (r) => (r.target.startsWith('app') ? `ready < 1500 ms: ${(r.ready ?? Infinity) < 1500 ? 'yes' : 'NO'}; RSS < 200 MB: ${(r.rssAfter ?? Infinity) < 200 ? 'yes' : 'NO'}` : ''), align: 'left' },
      ]),
    );
  }
  if (inProcess !== undefined) lines.push('', `in-process session.run, batches of ${o.batchSize}: ${fmt(inProcess)} predictions/s (median of ${result.inProcess?.length} round(s))`);
  if (ratioRows.length > 0) {
    lines.push(
      '',
      renderTable(ratioRows, [
        { header: 'ratio', value: (r) => r.name, align: 'left' },
        { header: 'value', value: (r) => fmt(r.value, 2) },
        { header: 'meaning', value: (r) => r.meaning, align: 'left' },
      ]),
    );
  }
  if (apps.length > 1 && fastest) lines.push('', `fastest app configuration (single c=${o.connections}): ${fastest.target} at ${fmt(fastest.reqPerSec)} req/s`);
  return { text: lines.join('\n'), summary, ratios: ratioRows, fastestApp: fastest?.target };
}

/** Threads per session run the app gets: --intra-op-threads, else its Deployment's, else the app's default (2). */
const intraOpThreads = () => opts.intraOpThreads ?? Number(deployedEnv(MODEL)['INFERENCE_INTRA_OP_THREADS'] ?? 2);

/** The app as deployed (k8s/intent-classifier.yaml), with only what this benchmark must change. */
async function startIntentApp(id: string, version: string, workers: number, logLevel: string, round: number | string): Promise<RunningServer> {
  const changes: Record<string, EnvChange> = {
    MODEL_VERSION_INTENT_CLASSIFIER: { value: version, why: 'pinned to the file the bare servers load' },
  };
  // The app's default is the repo's models/ (the image's own copy where deployed).
  if (opts.modelDir !== join(WORKSPACE_ROOT, 'models')) changes['MODEL_DIR'] = { value: opts.modelDir, why: '--model-dir' };
  if (workers !== 1) changes['INFERENCE_WORKERS'] = { value: String(workers), why: '--workers' };
  if (opts.intraOpThreads !== undefined) changes['INFERENCE_INTRA_OP_THREADS'] = { value: String(opts.intraOpThreads), why: '--intra-op-threads' };
  if (opts.nodeOptions !== DEPLOYED) changes['NODE_OPTIONS'] = { value: opts.nodeOptions, why: '--node-options' };
  const file = join(opts.logDir, `${id.replace(/[^\w=.-]+/g, '_')}-r${round}.log`);
  const app = await startDeployedApp(MODEL, { logFile: file, logLevel, changes });
  overridesByTarget[id] = app.overrides;
  return app;
}

/**
 * `--sweep`: load curves of bare-batched and the app, interleaved point by point. The bare server runs
 * throughout; the app is started afresh for every point: a load generator that stops closes its
 * connections with requests in flight, and the app (2026-12-04) keeps counting those as in flight in
 * its admission control, which after a few points sheds every request (see README, Performance).
 */
async function sweep(model: { version: string; path: string }, generator: QueryGenerator): Promise<void> {
  const startedAt = new Date();
  const level = opts.logLevels[0];
  const workers = opts.workers[0];
  const appName = `app (log=${level}${workers !== 1 ? `, workers=${workers}` : ''})`;
  await waitForQuiet();
  const bare = await startBareServer('batched', model.path);
  try {
    const point = (url: string, connections: number, cursor: QueryCursor) =>
      runLoad(url, { connections, durationSec: opts.pointDurationSec, warmupSec: opts.pointWarmupSec, path: '/predict/intent', body: () => JSON.stringify({ query: cursor.next() }) });
    const appCursor = new QueryCursor(generator);
    const bareCursor = new QueryCursor(generator);
    const series = await runSweep(
      [
        {
          name: appName,
          load: async (connections) => {
            const app = await startIntentApp(appName, model.version, workers, level, `sweep-c${connections}`);
            try {
              await checkAnswers(app.url, '/predict/intent', JSON.stringify({ query: 'how do I reset my card pin' }), 'intent');
              return await point(app.url, connections, appCursor);
            } finally {
              await app.stop();
            }
          },
        },
        { name: 'bare-batched (baseline)', baseline: true, load: (connections) => point(bare.url, connections, bareCursor) },
      ],
      opts.levels,
    );
    const overrides = overridesByTarget[appName] ?? [];
    const stem = `intent-sweep-${startedAt.toISOString().replace(/[:.]/g, '-')}`;
    const page = writeSweepReport(opts.out, {
      stem,
      title: `Intent classifier ${model.version}`,
      notes: [
        `\`npm run bench -- --sweep\` on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, ` +
          `1-minute load average ${loadavg()[0].toFixed(2)} at the start (a shared machine: absolute figures move, compare the lines).`,
        ...(pinning ? [`CPU: ${pinning}.`] : []),
        `Closed loop (each connection sends its next request when the answer arrives), ${engine}, every request a distinct query; ` +
          `${opts.pointDurationSec} s measured after ${opts.pointWarmupSec} s warm-up per point, the two targets measured one at a time, ` +
          `their order alternating from one point to the next. ${engine} opens its connections when measuring starts, so at high concurrency connection set-up lands in the first latencies (p99).`,
        `The app (\`dist/apps/intent-classifier/main.js\`) runs as deployed (k8s/: NODE_ENV=production, LOG_LEVEL=${level}, the ConfigMap and Deployment env, access ${logsGoTo()}) except: ` +
          overrides.map((o) => `\`${o.name}\` ${o.bench === undefined ? 'unset' : `= \`${o.bench}\``} (${o.why})`).join('; ') +
          `. It is started afresh for every point: each stop of the load generator leaves the requests it had in flight counted as in flight by the app's admission control, ` +
          `and on one process after a few points every request was shed (503). The baseline, \`bare-server.ts --kind batched\` (node:http, one ONNX session, one run for whatever arrived within 1 ms, at most 32), runs throughout.`,
      ],
      series,
      meta: { benchmark: 'intent-sweep', startedAt: startedAt.toISOString(), model, options: { ...opts, targets: [...opts.targets] }, overrides },
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
  if (args.report) {
    console.log(buildReport(JSON.parse(readFileSync(resolve(args.report), 'utf8')) as SavedResult).text);
    return;
  }
  const model = await resolveModel();
  const generator = new QueryGenerator(readCorpus(opts.corpus), opts.seed);
  const checked = 100_000;
  assertDistinct(generator, checked);
  log(`model ${MODEL}@${model.version} (${relative(WORKSPACE_ROOT, model.path)}); first ${fmt(checked)} queries checked distinct`);
  mkdirSync(opts.logDir, { recursive: true });
  log(`app logs: ${opts.logDir}`);
  if (opts.sweep) return sweep(model, generator);

  const candidates: Target[] = [
    { id: 'bare-once', kind: 'bare-once', start: () => startBareServer('once', model.path) },
    { id: 'bare-batched', kind: 'bare-batched', start: () => startBareServer('batched', model.path) },
    ...opts.workers.flatMap((w) =>
      opts.logLevels.map<Target>((level) => {
        const id = `app workers=${w} intra=${intraOpThreads()}${opts.nodeOptions === DEPLOYED ? '' : ` node=[${opts.nodeOptions}]`} log=${level}`;
        return { id, kind: 'app', workers: w, logLevel: level, start: (round: number) => startIntentApp(id, model.version, w, level, round) };
      }),
    ),
  ];
  const targets = candidates.filter((t) => opts.targets.has(t.kind));
  if (targets.length === 0 && !opts.targets.has('inprocess')) throw new Error(`--targets selects nothing (choose from bare-once, bare-batched, inprocess, app)`);

  const startedAt = new Date();
  const load1 = loadavg()[0];
  if (load1 > 0.5) log(`warning: 1-minute load average is ${load1.toFixed(2)} before the run; results may be noisy`);
  const measurements: Measurement[] = [];
  const inProcess: Array<{ round: number; result: InProcessResult }> = [];
  const processes: ProcessFigures[] = [];
  // Rounds interleave the targets (A B C, A B C) so drift in the machine spreads over all of them.
  // Every other round runs them in reverse (A B C, C B A), so no target always follows the same one.
  for (let round = 1; round <= opts.rounds; round++) {
    if (opts.targets.has('inprocess')) inProcess.push(await measureInProcess(model.path, round));
    const order = round % 2 === 1 ? targets : [...targets].reverse();
    for (const target of order) measurements.push(...(await measureTarget(target, round, generator, processes)));
  }

  const result: SavedResult = {
    benchmark: 'intent',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, platform: process.platform, loadAverageBefore: load1, pinning },
    model: { name: MODEL, version: model.version, path: relative(WORKSPACE_ROOT, model.path), sha256: model.manifest['sha256'] },
    options: {
      ...opts,
      targets: [...opts.targets],
      modelDir: relative(WORKSPACE_ROOT, opts.modelDir) || '.',
      corpus: relative(WORKSPACE_ROOT, opts.corpus),
      out: relative(WORKSPACE_ROOT, opts.out),
    },
    measurements,
    processes,
    ...(inProcess.length > 0 ? { inProcess } : {}),
    overrides: overridesByTarget,
  };
  const report = buildReport(result);
  console.log(report.text);

  mkdirSync(opts.out, { recursive: true });
  const file = join(opts.out, `intent-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const { summary, ratios: ratioRows, fastestApp } = report;
  // Measurements last: the derived tables first for whoever opens the file.
  const { measurements: raw, ...head } = result;
  writeFileSync(file, `${JSON.stringify({ ...head, summary, ratios: ratioRows, fastestApp, measurements: raw }, null, 2)}\n`);
  console.log(`\nresults: ${relative(WORKSPACE_ROOT, file)}`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`benchmark failed: ${e.stack ?? e.message}`);
    killAllChildren();
    process.exit(1);
  },
);
