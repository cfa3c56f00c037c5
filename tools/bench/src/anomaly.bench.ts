/**
 * Anomaly detector benchmark: what the real app (Nest on Fastify, validation, customer history in
 * memory or in Redis, the feature code, reasons, metrics, its batching scheduler and workers) costs
 * compared with the least code that can serve the same ONNX file: a bare node:http server with the
 * simplest micro-batching, scoring feature vectors the benchmark computed beforehand with the
 * detector's own feature code for the very same transactions. Single transactions and batches of
 * 256; every scenario runs as its own child process, one at a time. See tools/bench/README.md.
 *
 *   npx ts-node --transpile-only -P tools/bench/tsconfig.json tools/bench/src/anomaly.bench.ts \
 *     [--duration 10] [--warmup 3] [--rounds 1] [--connections 32] [--batch-connections 4] \
 *     [--baseline-version 1.0.0]
 *
 * Acceptance: with the fair baseline measured (fair-* scenarios, anomaly-fair-server.ts: the app's
 * work on node:http), the app with in-memory history at least 70% of it and with Redis at least 50%
 * of the in-memory app, same shape, same run. Without it, the older targets against the
 * model-only bare server (60% in memory, 40% with Redis).
 *
 * Any model version: the bare server's rows are computed with the FeatureSet the served model's
 * manifest names (`featureSetOf(manifest.feature_version)`), as the app does. With
 * `--baseline-version`, every app scenario is also run against the app serving that version,
 * interleaved with the model under test within each round (model then baseline in odd rounds,
 * baseline then model in even ones), and the app under test must reach BASELINE_TARGET of the
 * baseline app's throughput in every shape.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { featureSetOf, precompute, type FeatureSet, type PrecomputedTraffic } from './lib/anomaly-features';
import {
  appCounters,
  bareCounters,
  callsBetween,
  commandCalls,
  connectRedis,
  countersBetween,
  countKeys,
  deleteKeys,
  findRedisServerPid,
  redisIo,
  startAnomalyBareServer,
  startAnomalyFairServer,
  type AnomalyCounters,
} from './lib/anomaly-targets';
import { applyLoadOptions, checkAnswers, CPU_USAGE, ENGINE_USAGE, highestModelVersion, log, positiveOption, LOAD_OPTIONS, LOG_OPTIONS } from './lib/cli';
import { coresUsed, cpuBetween, cpuSnapshot, type CpuSnapshot } from './lib/cpu';
import { killAllChildren, logsGoTo, rssMb } from './lib/processes';
import { runSweep, SWEEP_LEVELS, SWEEP_OPTIONS, writeSweepReport } from './lib/sweep';
import { fmt, median, ratio, renderTable, type Column } from './lib/report';
import { runLoad, startDeployedApp, WORKSPACE_ROOT, type EnvChange, type EnvOverride, type LoadResult, type RunningServer } from './lib/targets';
import { deployedEnv, describeOverrides } from './lib/deployed';
import { TransactionStream } from './lib/transactions';

const MODEL = 'anomaly-detector';
const TARGETS = { memory: 0.6, redis: 0.4 } as const;
/** With --baseline-version: the app under test at least this share of the baseline app's tx/s. */
const BASELINE_TARGET = 0.9;
const SCENARIOS = ['bare-single', 'fair-single', 'memory-single', 'redis-single', 'bare-batch', 'fair-batch', 'memory-batch', 'redis-batch'] as const;
type ScenarioId = (typeof SCENARIOS)[number];
type Kind = 'bare' | 'fair' | 'memory' | 'redis';
/**
 * Against the fair baseline (anomaly-fair-server.ts: the app's work on node:http): the app with
 * in-memory history at least 0.7x of it, and with Redis at least 0.5x of the in-memory app.
 */
const FAIR_TARGETS = { memory: 0.7, redis: 0.5 } as const;
type Shape = 'single' | 'batch';
/** Which app a measurement ran: the model under test, or the --baseline-version one. */
type Role = 'model' | 'baseline';

const USAGE = `usage: anomaly.bench.ts [options]
  --duration <s>           measured seconds per scenario (10)
  --warmup <s>             unmeasured seconds of the same load before each scenario (3)
  --rounds <n>             repeat every scenario n times, report medians (1)
  --connections <n>        concurrency of the single-transaction scenarios (32)
  --batch-connections <n>  concurrency of the batch scenarios (4)
  --batch-size <n>         transactions per batch request (256, the endpoint's maximum)
  --scenarios <list>       any of ${SCENARIOS.join(',')} (all)
  --users <n>              distinct customers in the traffic (20000)
  --user-order <o>         weighted (customers drawn by activity) or round-robin (weighted)
  --pool <n>               transactions whose features are precomputed for the bare server;
                           it cycles through them, the app never sees a transaction twice (131072)
  --seed <n>               traffic seed (1)
  --workers <n>            INFERENCE_WORKERS of the app (default: as deployed, k8s/: 0)
  --redis-url <url>        Redis of the Redis scenarios (redis://127.0.0.1:6379)
  --model-dir <dir>        models root (models); the highest version of ${MODEL} is used
  --model-version <v>      pin a version
  --baseline-version <v>   also run every app scenario (memory-*, redis-*) on the app serving
                           version v, interleaved with the model under test in each round, and
                           compare: model tx/s over baseline tx/s (target >= ${BASELINE_TARGET})
  --log-level <level>      LOG_LEVEL of the app (info, as deployed); the app otherwise runs with its
                           k8s/ env (NODE_ENV=production, ...), its logs appended to a file under --log-dir
  --log-dir <dir>          where the app's log files go (<tmp>/ml-bench-logs/<run>)
${CPU_USAGE}
${ENGINE_USAGE}
  --sweep                  load curves instead: the app (history in memory) and the fair baseline,
                           single transactions at every --levels concurrency, a page with charts in --out
  --levels <list>          sweep concurrencies (${SWEEP_LEVELS.join(',')})
  --point-duration <s>     measured seconds per sweep point (3)
  --point-warmup <s>       warm-up seconds per sweep point (1)
  --strict                 exit with code 2 when a scenario misses its target
  --out <dir>              where the JSON results go (tools/bench/results)
  --report <file.json>     print the tables of an earlier run's results file, run nothing`;

const { values: args } = parseArgs({
  options: {
    ...LOAD_OPTIONS,
    'batch-connections': { type: 'string', default: '4' },
    'batch-size': { type: 'string', default: '256' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    users: { type: 'string', default: '20000' },
    'user-order': { type: 'string', default: 'weighted' },
    pool: { type: 'string', default: '131072' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string' },
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
    'model-dir': { type: 'string', default: 'models' },
    'model-version': { type: 'string' },
    'baseline-version': { type: 'string' },
    ...LOG_OPTIONS,
    ...SWEEP_OPTIONS,
    strict: { type: 'boolean', default: false },
    out: { type: 'string', default: 'tools/bench/results' },
    report: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});


function scenarioList(text: string): ScenarioId[] {
  const wanted = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of wanted) {
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      console.error(`--scenarios: unknown scenario ${s}\n${USAGE}`);
      process.exit(2);
    }
  }
  // Always in the canonical order, whatever order they were given in.
  return SCENARIOS.filter((s) => wanted.includes(s));
}

const userOrder = args['user-order'];
if (userOrder !== 'weighted' && userOrder !== 'round-robin') {
  console.error(`--user-order must be weighted or round-robin\n${USAGE}`);
  process.exit(2);
}

const positive = (name: string, text: string | undefined, allowZero = false) => positiveOption(USAGE, name, text, allowZero);
const { engine, setup: pinning } = applyLoadOptions(USAGE, args);

const opts = {
  durationSec: positive('duration', args.duration),
  warmupSec: positive('warmup', args.warmup, true),
  rounds: Math.round(positive('rounds', args.rounds)),
  connections: Math.round(positive('connections', args.connections)),
  batchConnections: Math.round(positive('batch-connections', args['batch-connections'])),
  batchSize: Math.round(positive('batch-size', args['batch-size'])),
  scenarios: scenarioList(args.scenarios ?? ''),
  users: Math.round(positive('users', args.users)),
  userOrder: userOrder as 'weighted' | 'round-robin',
  pool: Math.round(positive('pool', args.pool)),
  seed: Math.round(positive('seed', args.seed, true)),
  /** undefined: the deployed value (k8s/), not overridden. */
  workers: args.workers === undefined ? undefined : Math.round(positive('workers', args.workers, true)),
  /** INFERENCE_WORKERS as k8s/ deploys it, recorded with the results when --workers does not override it. */
  deployedWorkers: args.workers === undefined ? (deployedEnv(MODEL)['INFERENCE_WORKERS'] ?? '(unset: the app default)') : undefined,
  redisUrl: args['redis-url'] ?? 'redis://127.0.0.1:6379',
  modelDir: resolve(WORKSPACE_ROOT, args['model-dir'] ?? 'models'),
  modelVersion: args['model-version'],
  baselineVersion: args['baseline-version'],
  strict: args.strict === true,
  logLevel: args['log-level'] ?? 'info',
  sweep: args.sweep === true,
  levels: (args.levels ?? '').split(',').map((c) => Math.round(positive('levels', c.trim()))),
  pointDurationSec: positive('point-duration', args['point-duration']),
  pointWarmupSec: positive('point-warmup', args['point-warmup'], true),
  logDir: resolve(args['log-dir'] ?? join(tmpdir(), 'ml-bench-logs', `anomaly-${new Date().toISOString().replace(/[:.]/g, '-')}`)),
  out: resolve(WORKSPACE_ROOT, args.out ?? ''),
};
if (opts.batchSize > 256) {
  console.error('--batch-size must be at most 256 (the batch endpoint refuses more)');
  process.exit(2);
}

interface Measurement {
  round: number;
  scenario: ScenarioId;
  /** Absent in results written before --baseline-version existed: 'model'. */
  role?: Role;
  /** Model version the target served. */
  modelVersion?: string;
  /** Spawn to first 200 on /health/ready; RSS of the target process then and after the load. */
  process?: { startToReadyMs: number; rssAtReadyMb?: number; rssAfterLoadMb?: number };
  kind: Kind;
  shape: Shape;
  path: string;
  /** Transactions per request. */
  size: number;
  /** Rows per ONNX run while measuring. */
  meanBatch?: number;
  /** What the target's counters moved by while measuring. */
  counters?: AnomalyCounters;
  /** App: degraded answers plus skipped folds over the instance's whole life (warm-up included). */
  degradedTotal?: number;
  /** Transactions (app) or feature rows (bare) handed out to this target instance, warm-up included. */
  itemsSent: number;
  /** Cores used while measuring: target, load generator, redis-server, everything else. */
  cpu?: { server: number; driver: number; redis?: number; other: number };
  /** Redis scenarios: commands by name while measuring (all clients of that Redis). */
  redisCalls?: Record<string, number>;
  /** Redis scenarios: socket reads and writes Redis processed, bytes it received (all clients). */
  redisIo?: { reads: number; writes: number; inputBytes: number };
  /** Redis scenarios: customer keys the app wrote, and how many the benchmark deleted after. */
  redisKeys?: { written: number; deleted: number };
  load: LoadResult;
}


interface ModelRef {
  version: string;
  path: string;
  manifest: Record<string, unknown>;
  /** The feature set the manifest's feature_version names (what the app serves it with). */
  features: FeatureSet;
}

/** `pinned`, or the highest version; its manifest must name a feature set this build computes, of its input width. */
function resolveModel(pinned: string | undefined): ModelRef {
  const dir = join(opts.modelDir, MODEL);
  const version = pinned ?? highestModelVersion(dir);
  if (!version || !existsSync(join(dir, version, 'model.onnx'))) throw new Error(`no ${MODEL} model under ${dir}${pinned ? ` (version ${pinned})` : ''}`);
  const path = join(dir, version, 'model.onnx');
  const manifest = JSON.parse(readFileSync(join(dir, version, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const features = featureSetOf(manifest['feature_version']);
  const inputShape = (manifest['inputs'] as Array<{ shape?: unknown[] }> | undefined)?.[0]?.shape;
  if (inputShape?.[1] !== features.count) {
    throw new Error(`${path}: input shape ${JSON.stringify(inputShape)} does not take the ${features.count} features of ${features.version}`);
  }
  return { version, path, manifest, features };
}


/** Request bodies for one target instance, from its first request on. */
function bodies(kind: Kind, shape: Shape, stream: TransactionStream, pool: PrecomputedTraffic) {
  let next = 0;
  const size = shape === 'single' ? 1 : opts.batchSize;
  if (kind === 'bare') {
    // Stateless: cycling through the precomputed rows costs it exactly what fresh rows would.
    const row = () => pool.rows[next++ % pool.rows.length];
    const body = shape === 'single' ? () => `{"features":${row()}}` : () => `{"features":[${Array.from({ length: size }, row).join(',')}]}`;
    return { body, used: () => next };
  }
  // Stateful: transaction k is sent once, in order; beyond the pool it is generated on the fly.
  const tx = () => {
    const k = next++;
    return k < pool.transactions.length ? pool.transactions[k] : JSON.stringify(stream.at(k));
  };
  const body = shape === 'single' ? tx : () => `{"transactions":[${Array.from({ length: size }, tx).join(',')}]}`;
  return { body, used: () => next };
}

function coresOf(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined, serverPid: number, redisPid: number | undefined): Measurement['cpu'] {
  const usage = cpuBetween(before, after, serverPid);
  if (!usage || !before || !after) return undefined;
  if (redisPid === undefined) return { ...usage };
  const redis = coresUsed(before, after, redisPid) ?? 0;
  return { ...usage, redis, other: Math.max(0, usage.other - redis) };
}

/** What every app run changes in the deployed env: the model under test, its workers, room for every customer. */
function appChanges(model: ModelRef): Record<string, EnvChange> {
  const changes: Record<string, EnvChange> = {
    MODEL_VERSION_ANOMALY_DETECTOR: { value: model.version, why: 'pinned to the model under test' },
    // Enough room that no customer of the traffic is ever evicted from memory.
    ANOMALY_PROFILE_MAX: { value: String(Math.max(100_000, opts.users)), why: 'every customer of the traffic fits in memory' },
  };
  if (opts.workers !== undefined) changes['INFERENCE_WORKERS'] = { value: String(opts.workers), why: '--workers' };
  if (opts.modelDir !== join(WORKSPACE_ROOT, 'models')) changes['MODEL_DIR'] = { value: opts.modelDir, why: '--model-dir' };
  return changes;
}

async function measure(
  scenario: ScenarioId,
  round: number,
  model: ModelRef,
  role: Role,
  stream: TransactionStream,
  pool: PrecomputedTraffic,
  runId: string,
): Promise<Measurement> {
  const [kind, shape] = scenario.split('-') as [Kind, Shape];
  const path = shape === 'single' ? '/predict/anomaly' : '/predict/anomaly/batch';
  const size = shape === 'single' ? 1 : opts.batchSize;
  const connections = shape === 'single' ? opts.connections : opts.batchConnections;
  // The app appends v<profile version>: to it; one prefix per app instance, deleted afterwards.
  const prefix = `bench:anomaly:${runId}:r${round}:${scenario}:${role}@${model.version}:`;
  const redis = kind === 'redis' ? await connectRedis(opts.redisUrl) : undefined;
  const redisPid = kind === 'redis' ? findRedisServerPid() : undefined;

  const label = kind === 'bare' || kind === 'fair' ? scenario : `${scenario} ${MODEL}@${model.version}${role === 'baseline' ? ' (baseline)' : ''}`;
  log(`round ${round}: starting ${label}${redis ? ` (Redis keys under ${prefix})` : ''}`);
  let server: RunningServer | undefined;
  let m: Measurement | undefined;
  try {
    if (kind === 'bare') server = await startAnomalyBareServer(model.path);
    else if (kind === 'fair') server = await startAnomalyFairServer(model.path);
    else {
      const changes = appChanges(model);
      if (redis) {
        changes['ANOMALY_PROFILE_KEY_PREFIX'] = { value: prefix, why: 'keys of this run, deleted afterwards' };
        // A TTL of a day instead of 90 (it costs the app nothing): should the benchmark be killed
        // before it deletes its keys, they go by themselves.
        changes['ANOMALY_PROFILE_TTL_DAYS'] = { value: '1', why: 'keys left by a killed run expire' };
      }
      mkdirSync(opts.logDir, { recursive: true });
      const app = await startDeployedApp(MODEL, {
        logFile: join(opts.logDir, `${scenario}-${role}@${model.version}-r${round}.log`),
        logLevel: opts.logLevel,
        redisUrl: redis ? opts.redisUrl : undefined,
        changes,
      });
      overridesByTarget[`${kind} ${role}`] = app.overrides;
      server = app;
    }
    const url = server.url;
    const proc: NonNullable<Measurement['process']> = { startToReadyMs: server.startToReadyMs, rssAtReadyMb: rssMb(server.pid) };
    const { body, used } = bodies(kind, shape, stream, pool);
    await checkAnswers(url, path, body(), kind === 'bare' ? (shape === 'single' ? 'score' : 'predictions') : shape === 'single' ? 'transaction_id' : 'predictions');

    // The model-only bare server is stateless and fed a cycled pool of rows: wrk may cycle its bodies too.
    const repeatBodies = kind === 'bare';
    if (opts.warmupSec > 0) await runLoad(url, { connections, durationSec: opts.warmupSec, path, body, itemsPerRequest: size, repeatBodies });
    const counters = () => (kind === 'bare' || kind === 'fair' ? bareCounters(url) : appCounters(url, MODEL));
    const before = await counters();
    const callsBefore = redis ? await commandCalls(redis) : undefined;
    const ioBefore = redis ? await redisIo(redis) : undefined;
    const pids = [server.pid, process.pid, ...(redisPid ? [redisPid] : [])];
    let cpuBefore: ReturnType<typeof cpuSnapshot>;
    const load = await runLoad(url, { connections, durationSec: opts.durationSec, path, body, itemsPerRequest: size, repeatBodies, onMeasureStart: () => (cpuBefore = cpuSnapshot(pids)) });
    const cpu = coresOf(cpuBefore, cpuSnapshot(pids), server.pid, redisPid);
    const ioAfter = redis ? await redisIo(redis) : undefined;
    const redisCalls = redis && callsBefore ? callsBetween(callsBefore, await commandCalls(redis)) : undefined;
    const io =
      ioBefore && ioAfter ? { reads: ioAfter.reads - ioBefore.reads, writes: ioAfter.writes - ioBefore.writes, inputBytes: ioAfter.inputBytes - ioBefore.inputBytes } : undefined;
    const after = await counters();
    const moved = countersBetween(before, after);
    proc.rssAfterLoadMb = rssMb(server.pid);
    m = {
      round,
      scenario,
      role,
      modelVersion: model.version,
      process: proc,
      kind,
      shape,
      path,
      size,
      meanBatch: moved && moved.runs > 0 ? moved.rows / moved.runs : undefined,
      counters: moved,
      degradedTotal: after && kind !== 'bare' && kind !== 'fair' ? (after.degraded ?? 0) + (after.foldSkipped ?? 0) : undefined,
      itemsSent: used(),
      cpu,
      redisCalls,
      redisIo: io,
      load,
    };
    const bad = load.non2xx + load.errors + load.timeouts;
    log(
      `  ${label} c=${connections}: ${fmt(load.reqPerSec)} req/s, ${fmt(load.itemsPerSec)} tx/s, ` +
        `p50 ${fmt(load.latencyMs.p50, 2)} ms, p99 ${fmt(load.latencyMs.p99, 2)} ms, rows/run ${fmt(m.meanBatch, 1)}` +
        (cpu ? `, cores: server ${cpu.server.toFixed(2)} driver ${cpu.driver.toFixed(2)}${cpu.redis !== undefined ? ` redis ${cpu.redis.toFixed(2)}` : ''} other ${cpu.other.toFixed(2)}` : '') +
        (bad ? `, non2xx ${load.non2xx} errors ${load.errors} timeouts ${load.timeouts}` : '') +
        (m.degradedTotal ? `, degraded answers + skipped folds ${m.degradedTotal}` : '') +
        `; ready ${fmt(proc.startToReadyMs)} ms after spawn, RSS ${fmt(proc.rssAtReadyMb)} MB at ready, ${fmt(proc.rssAfterLoadMb)} MB after load`,
    );
  } finally {
    await server?.stop();
    if (redis) {
      // Only this scenario's keys, whatever happened above.
      try {
        const written = await countKeys(redis, prefix);
        const deleted = await deleteKeys(redis, prefix);
        log(`  deleted ${deleted} Redis keys under ${prefix}`);
        if (m) m.redisKeys = { written, deleted };
      } finally {
        redis.disconnect();
      }
    }
  }
  return m;
}

interface Summary {
  scenario: ScenarioId;
  role: Role;
  /** Model version served (undefined in results written before it was recorded). */
  modelVersion?: string;
  kind: Kind;
  shape: Shape;
  connections: number;
  size: number;
  reqPerSec?: number;
  txPerSec?: number;
  p50?: number;
  p99?: number;
  meanBatch?: number;
  serverCores?: number;
  redisCores?: number;
  otherCores?: number;
  /** Transactions per second per core the target (plus redis-server) used. */
  txPerCoreSec?: number;
  /** Spawn to ready, RSS at ready and after the load (medians). */
  startToReadyMs?: number;
  rssAtReadyMb?: number;
  rssAfterLoadMb?: number;
  /** Non-2xx, errors and timeouts: invalid traffic or a broken target. */
  failures: number;
  /** App: answers given without history and transactions not folded (Redis timed out or was down). */
  degraded: number;
  rounds: number;
}

const roleOf = (m: Measurement): Role => m.role ?? 'model';

function summarise(measurements: Measurement[], role: Role): Summary[] {
  const out: Summary[] = [];
  for (const scenario of SCENARIOS) {
    const ms = measurements.filter((m) => m.scenario === scenario && roleOf(m) === role);
    if (ms.length === 0) continue;
    out.push({
      scenario,
      role,
      modelVersion: ms[0].modelVersion,
      kind: ms[0].kind,
      shape: ms[0].shape,
      connections: ms[0].load.connections,
      size: ms[0].size,
      reqPerSec: median(ms.map((m) => m.load.reqPerSec)),
      txPerSec: median(ms.map((m) => m.load.itemsPerSec)),
      p50: median(ms.map((m) => m.load.latencyMs.p50)),
      p99: median(ms.map((m) => m.load.latencyMs.p99)),
      meanBatch: median(ms.map((m) => m.meanBatch)),
      serverCores: median(ms.map((m) => m.cpu?.server)),
      redisCores: median(ms.map((m) => m.cpu?.redis)),
      otherCores: median(ms.map((m) => m.cpu?.other)),
      txPerCoreSec: median(
        ms.map((m) => {
          const cores = m.cpu ? m.cpu.server + (m.cpu.redis ?? 0) : 0;
          return cores > 0 ? m.load.itemsPerSec / cores : undefined;
        }),
      ),
      startToReadyMs: median(ms.map((m) => m.process?.startToReadyMs)),
      rssAtReadyMb: median(ms.map((m) => m.process?.rssAtReadyMb)),
      rssAfterLoadMb: median(ms.map((m) => m.process?.rssAfterLoadMb)),
      failures: ms.reduce((a, m) => a + m.load.non2xx + m.load.errors + m.load.timeouts, 0),
      degraded: ms.reduce((a, m) => a + (m.degradedTotal ?? 0), 0),
      rounds: ms.length,
    });
  }
  return out;
}

interface Verdict {
  scenario: ScenarioId;
  baseline: ScenarioId;
  /** App transactions/s over the bare server's, same shape, same run (medians over rounds). */
  throughputRatio?: number;
  target: number;
  meets?: boolean;
  /** The same per core-second used (CPU efficiency; informative, not the acceptance figure). */
  efficiencyRatio?: number;
  p99Ratio?: number;
}

function verdicts(summary: Summary[]): Verdict[] {
  const out: Verdict[] = [];
  for (const s of summary) {
    if (s.kind === 'bare' || s.kind === 'fair') continue;
    // With the fair baseline measured: memory against it, Redis against memory (issue 13's
    // targets); otherwise against the model-only bare server (the older targets).
    const fair = summary.some((b) => b.scenario === `fair-${s.shape}`);
    const baseline = (fair ? (s.kind === 'memory' ? `fair-${s.shape}` : `memory-${s.shape}`) : `bare-${s.shape}`) as ScenarioId;
    const bare = summary.find((b) => b.scenario === baseline);
    const value = ratio(s.txPerSec, bare?.txPerSec);
    const target = fair ? FAIR_TARGETS[s.kind] : TARGETS[s.kind];
    out.push({
      scenario: s.scenario,
      baseline,
      throughputRatio: value,
      target,
      meets: value === undefined ? undefined : value >= target,
      efficiencyRatio: ratio(s.txPerCoreSec, bare?.txPerCoreSec),
      p99Ratio: ratio(s.p99, bare?.p99),
    });
  }
  return out;
}

/** One app scenario, the model under test against the --baseline-version app (medians over rounds). */
interface BaselineComparison {
  scenario: ScenarioId;
  modelVersion?: string;
  baselineVersion?: string;
  /** Model tx/s over baseline tx/s (medians over rounds): the acceptance figure. */
  throughputRatio?: number;
  /** The same ratio round by round (each pair ran back to back), for the spread. */
  roundRatios: number[];
  target: number;
  meets?: boolean;
  /** Tx per core-second of app (+ redis-server), model over baseline: CPU efficiency, informative. */
  efficiencyRatio?: number;
  model: Summary;
  baseline: Summary;
}

function compareWithBaseline(measurements: Measurement[], model: Summary[], baseline: Summary[]): BaselineComparison[] {
  const out: BaselineComparison[] = [];
  for (const b of baseline) {
    const m = model.find((s) => s.scenario === b.scenario);
    if (!m) continue;
    const value = ratio(m.txPerSec, b.txPerSec);
    const roundRatios: number[] = [];
    for (const x of measurements.filter((y) => y.scenario === b.scenario && roleOf(y) === 'model')) {
      const y = measurements.find((z) => z.scenario === b.scenario && z.round === x.round && roleOf(z) === 'baseline');
      const r = ratio(x.load.itemsPerSec, y?.load.itemsPerSec);
      if (r !== undefined) roundRatios.push(r);
    }
    out.push({
      scenario: b.scenario,
      modelVersion: m.modelVersion,
      baselineVersion: b.modelVersion,
      throughputRatio: value,
      roundRatios,
      target: BASELINE_TARGET,
      meets: value === undefined ? undefined : value >= BASELINE_TARGET,
      efficiencyRatio: ratio(m.txPerCoreSec, b.txPerCoreSec),
      model: m,
      baseline: b,
    });
  }
  return out;
}

interface ModelInfo {
  name: string;
  version: string;
  path: string;
  sha256: unknown;
  featureCount: number;
  featureVersion?: string;
}

/** What a run writes (and `--report` reads back). */
interface SavedResult {
  benchmark: 'anomaly';
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel?: string; node: string; platform: string; loadAverageBefore: number; pinning?: string };
  model: ModelInfo;
  /** With --baseline-version: the model the app scenarios were also run with. */
  baseline?: ModelInfo;
  traffic: { users: number; userOrder: string; seed: number; pool: number; poolCustomers: number; poolWithoutHistory: number; poolMeanHistory: number; firstEventTime: string };
  options: Record<string, unknown> & { durationSec: number; warmupSec: number; rounds: number; connections: number; batchConnections: number; batchSize: number };
  measurements: Measurement[];
  /** Per app configuration: how its env differs from its k8s/ Deployment's (absent in runs before the deployed default). */
  overrides?: Record<string, EnvOverride[]>;
}

/** Per app configuration (`memory model`, `redis baseline`, ...): its env overrides, for the report. */
const overridesByTarget: Record<string, EnvOverride[]> = {};

const LABEL: Record<ScenarioId, string> = {
  'bare-single': 'bare server',
  'fair-single': 'fair baseline',
  'memory-single': 'app, history in memory',
  'redis-single': 'app, history in Redis',
  'bare-batch': 'bare server',
  'fair-batch': 'fair baseline',
  'memory-batch': 'app, history in memory',
  'redis-batch': 'app, history in Redis',
};

interface Report {
  text: string;
  summary: Summary[];
  verdicts: Verdict[];
  allMet?: boolean;
  baselineSummary: Summary[];
  baselineComparison: BaselineComparison[];
  baselineMet?: boolean;
}

const pair = (a: number | undefined, b: number | undefined, decimals = 0) => `${fmt(a, decimals)} / ${fmt(b, decimals)}`;

function buildReport(result: SavedResult): Report {
  const o = result.options;
  const summary = summarise(result.measurements, 'model');
  const baselineSummary = summarise(result.measurements, 'baseline');
  const vs = verdicts(summary);
  const comparison = compareWithBaseline(result.measurements, summary, baselineSummary);
  const byScenario = new Map(vs.map((v) => [v.scenario, v]));
  const columns: Column<Summary>[] = [
    { header: 'scenario', value: (s) => s.scenario, align: 'left' },
    { header: 'target', value: (s) => LABEL[s.scenario], align: 'left' },
    { header: 'c', value: (s) => String(s.connections) },
    { header: 'req/s', value: (s) => fmt(s.reqPerSec) },
    { header: 'tx/s', value: (s) => fmt(s.txPerSec) },
    { header: 'p50 ms', value: (s) => fmt(s.p50, 2) },
    { header: 'p99 ms', value: (s) => fmt(s.p99, 2) },
    { header: 'rows/run', value: (s) => fmt(s.meanBatch, 1) },
    { header: 'against', value: (s) => byScenario.get(s.scenario)?.baseline ?? '', align: 'left' },
    { header: 'ratio', value: (s) => (byScenario.has(s.scenario) ? fmt(byScenario.get(s.scenario)?.throughputRatio, 2) : '') },
    { header: 'target', value: (s) => (byScenario.has(s.scenario) ? `>=${fmt(byScenario.get(s.scenario)?.target, 2)}` : '') },
    { header: 'meets', value: (s) => (!byScenario.has(s.scenario) ? '' : (byScenario.get(s.scenario)?.meets === undefined ? '-' : byScenario.get(s.scenario)?.meets ? 'yes' : 'NO')), align: 'left' },
    { header: 'server cores', value: (s) => fmt(s.serverCores, 2) },
    { header: 'redis cores', value: (s) => fmt(s.redisCores, 2) },
    { header: 'other cores', value: (s) => fmt(s.otherCores, 2) },
    { header: 'tx/core-s', value: (s) => fmt(s.txPerCoreSec) },
    { header: 'ready ms', value: (s) => fmt(s.startToReadyMs) },
    { header: 'RSS MB', value: (s) => fmt(s.rssAfterLoadMb) },
    { header: 'failed', value: (s) => String(s.failures) },
    { header: 'degraded', value: (s) => (s.kind === 'bare' || s.kind === 'fair' ? '' : String(s.degraded)) },
  ];
  const m = result.machine;
  const t = result.traffic;
  const features = result.model.featureVersion ? `, ${result.model.featureVersion} (${result.model.featureCount} features)` : '';
  const lines = [
    '',
    `Anomaly detector benchmark: model ${result.model.name}@${result.model.version}${features}, ${m.cpus} CPUs (${m.cpuModel ?? '?'}), node ${m.node}`,
    `${o.durationSec} s measured after ${o.warmupSec} s warm-up per scenario; ${o.rounds} round(s), medians; single c=${o.connections}, batch of ${o.batchSize} c=${o.batchConnections}; app INFERENCE_WORKERS=${String(o['workers'] ?? `${String(o['deployedWorkers'])} as deployed`)}`,
    `traffic: ${fmt(t.users)} customers (${t.userOrder}), every transaction id distinct, time-ordered; bare server fed the same transactions' features (${fmt(t.pool)} precomputed rows, cycled)`,
    `ratio = transactions/s over those of the scenario in 'against' (same shape, same run); the fair baseline does the app's work (validation, features from in-memory history, ONNX, contributions, reasons, fold) on node:http;`,
    `server/redis/other cores = CPU of the target, of redis-server, of everything else but the load generator (noise);`,
    `ready ms = spawn to first 200 on /health/ready; RSS MB = the target process after the load`,
    ...(m.pinning ? [`CPU: ${m.pinning}`] : []),
    result.overrides
      ? `the app runs as deployed (k8s/: NODE_ENV=production, the ConfigMap and Deployment env, LOG_LEVEL=${String(o['logLevel'] ?? 'info')}, ${logsGoTo()}) except:`
      : `the app ran with LOG_LEVEL=warn, logs piped to the benchmark (a run before the deployed default)`,
    ...Object.entries(result.overrides ?? {}).flatMap(([id, os]) => describeOverrides(`${id}:`, os)),
    '',
    renderTable(summary, columns),
  ];
  if (comparison.length > 0) {
    const b = result.baseline;
    const cmpColumns: Column<BaselineComparison>[] = [
      { header: 'scenario', value: (c) => c.scenario, align: 'left' },
      { header: 'tx/s model / base', value: (c) => pair(c.model.txPerSec, c.baseline.txPerSec) },
      { header: 'model/base', value: (c) => fmt(c.throughputRatio, 2) },
      { header: 'per round', value: (c) => c.roundRatios.map((r) => fmt(r, 2)).join(' '), align: 'left' },
      { header: 'target', value: (c) => `>=${fmt(c.target, 2)}` },
      { header: 'meets', value: (c) => (c.meets === undefined ? '-' : c.meets ? 'yes' : 'NO'), align: 'left' },
      { header: 'p50 ms model / base', value: (c) => pair(c.model.p50, c.baseline.p50, 2) },
      { header: 'p99 ms model / base', value: (c) => pair(c.model.p99, c.baseline.p99, 2) },
      { header: 'tx/core-s m/b', value: (c) => fmt(c.efficiencyRatio, 2) },
      { header: 'ready ms model / base', value: (c) => pair(c.model.startToReadyMs, c.baseline.startToReadyMs) },
      { header: 'RSS ready MB model / base', value: (c) => pair(c.model.rssAtReadyMb, c.baseline.rssAtReadyMb) },
      { header: 'RSS after load MB model / base', value: (c) => pair(c.model.rssAfterLoadMb, c.baseline.rssAfterLoadMb) },
    ];
    lines.push(
      '',
      `model vs baseline: app serving ${result.model.version}${features} against the app serving ${b?.version ?? '?'}${b?.featureVersion ? `, ${b.featureVersion} (${b.featureCount} features)` : ''},`,
      `same traffic, each pair run back to back in every round (order alternating); model/base = median tx/s over median tx/s (target >= ${fmt(BASELINE_TARGET, 2)}),`,
      `per round = the same ratio for each round's pair; tx/core-s m/b = CPU efficiency ratio (app + redis-server cores)`,
      '',
      renderTable(comparison, cmpColumns),
    );
  }
  const redisRuns = result.measurements.filter((x) => x.redisCalls);
  if (redisRuns.length > 0) {
    lines.push(
      '',
      'Redis while measuring (INFO commandstats and stats, so every client of that Redis counts): commands per transaction',
      "(HGET, HSET, PEXPIRE run inside the EVALSHA compare-and-set script); socket reads per request ~ round trips, far fewer than commands when pipelined",
    );
    for (const x of redisRuns) {
      const txs = Math.max(1, x.load.ok * x.size);
      const requests = Math.max(1, x.load.ok + x.load.non2xx);
      const calls = Object.entries(x.redisCalls ?? {})
        .filter(([name]) => !['info', 'ping', 'client|list', 'scan'].includes(name))
        .map(([name, n]) => `${name} ${fmt(n / txs, 2)}`)
        .join(', ');
      const io = x.redisIo ? `; reads/request ${fmt(x.redisIo.reads / requests, 1)}, KB in/request ${fmt(x.redisIo.inputBytes / requests / 1024, 1)}` : '';
      const keys = x.redisKeys ? `; ${fmt(x.redisKeys.written)} customer keys written, ${fmt(x.redisKeys.deleted)} deleted after` : '';
      const who = roleOf(x) === 'baseline' ? ` (baseline ${x.modelVersion ?? ''})` : '';
      lines.push(`  round ${x.round} ${x.scenario}${who}: ${calls || '-'}${io}${keys}`);
    }
  }
  const conflicts = result.measurements.reduce((a, x) => a + (x.counters?.casConflicts ?? 0), 0);
  if (conflicts > 0) lines.push('', `compare-and-set conflicts re-applied: ${fmt(conflicts)} (counted, not failures)`);
  const judged = vs.filter((v) => v.meets !== undefined);
  const allMet = judged.length > 0 ? judged.every((v) => v.meets) : undefined;
  if (judged.length > 0) {
    lines.push(
      '',
      judged
        .map((v) => `${v.scenario}: ${fmt(v.throughputRatio, 2)} x ${v.baseline} (target >= ${fmt(v.target, 2)}) ${v.meets ? 'meets' : 'MISSES'} the target`)
        .join('\n'),
    );
  }
  const judgedBase = comparison.filter((c) => c.meets !== undefined);
  const baselineMet = judgedBase.length > 0 ? judgedBase.every((c) => c.meets) : undefined;
  if (judgedBase.length > 0) {
    lines.push(
      '',
      judgedBase
        .map((c) => `${c.scenario}: ${c.modelVersion ?? 'model'} at ${fmt(c.throughputRatio, 2)} x ${c.baselineVersion ?? 'baseline'} (target >= ${fmt(c.target, 2)}) ${c.meets ? 'meets' : 'MISSES'} the target`)
        .join('\n'),
    );
  }
  const all = [...summary, ...baselineSummary];
  const failures = all.reduce((a, s) => a + s.failures, 0);
  const degraded = all.reduce((a, s) => a + s.degraded, 0);
  lines.push(
    '',
    failures === 0 ? 'non-2xx, errors, timeouts: 0' : `FAILED: ${failures} non-2xx responses, errors or timeouts: the traffic or a target is broken, the run is not valid`,
  );
  if (degraded > 0) {
    lines.push(
      `DEGRADED: ${degraded} answers without customer history or skipped folds (the app's Redis calls failed or timed out): the Redis path was not measured as such, the run is not valid`,
    );
  }
  return { text: lines.join('\n'), summary, verdicts: vs, allMet, baselineSummary, baselineComparison: comparison, baselineMet };
}

function modelInfo(model: ModelRef): ModelInfo {
  return {
    name: MODEL,
    version: model.version,
    path: relative(WORKSPACE_ROOT, model.path),
    sha256: model.manifest['sha256'],
    featureCount: model.features.count,
    featureVersion: model.features.version,
  };
}

/**
 * `--sweep`: load curves of the app (history in memory, as deployed) and the fair baseline, single
 * transactions, interleaved point by point. Both run throughout and each keeps one transaction
 * cursor, so every transaction is sent once, in time order, and histories build up as they would.
 */
async function sweep(model: ModelRef, stream: TransactionStream, pool: PrecomputedTraffic, runId: string): Promise<void> {
  const startedAt = new Date();
  const load1 = loadavg()[0];
  const path = '/predict/anomaly';
  mkdirSync(opts.logDir, { recursive: true });
  const app = await startDeployedApp(MODEL, {
    logFile: join(opts.logDir, `sweep-${runId}.log`),
    logLevel: opts.logLevel,
    changes: appChanges(model),
  });
  let fair: RunningServer | undefined;
  try {
    fair = await startAnomalyFairServer(model.path);
    const targets = [
      { name: `app, history in memory (log=${opts.logLevel})`, url: app.url, baseline: false, body: bodies('memory', 'single', stream, pool).body },
      { name: 'fair baseline', url: fair.url, baseline: true, body: bodies('fair', 'single', stream, pool).body },
    ];
    for (const t of targets) await checkAnswers(t.url, path, t.body(), 'transaction_id');
    const series = await runSweep(
      targets.map((t) => ({
        name: t.name,
        baseline: t.baseline,
        load: (connections: number) => runLoad(t.url, { connections, durationSec: opts.pointDurationSec, warmupSec: opts.pointWarmupSec, path, body: t.body }),
      })),
      opts.levels,
    );
    const page = writeSweepReport(opts.out, {
      stem: `anomaly-sweep-${startedAt.toISOString().replace(/[:.]/g, '-')}`,
      title: `Anomaly detector ${model.version}`,
      notes: [
        `\`npm run bench:anomaly -- --sweep\` on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, ` +
          `1-minute load average ${load1.toFixed(2)} at the start (a shared machine: absolute figures move, compare the lines).`,
        ...(pinning ? [`CPU: ${pinning}.`] : []),
        `Closed loop, ${engine}, \`POST ${path}\`, one transaction per request; ${fmt(opts.users)} customers, every transaction sent once, in time order, ` +
          `each target with its own cursor over the same stream; ${opts.pointDurationSec} s measured after ${opts.pointWarmupSec} s warm-up per point, the targets one at a time, their order alternating from one point to the next.`,
        `The app (\`dist/apps/anomaly-detector/main.js\`) runs throughout as deployed (k8s/: NODE_ENV=production, LOG_LEVEL=${opts.logLevel}, the ConfigMap and Deployment env, access ${logsGoTo()}) except: ` +
          app.overrides.map((o) => `\`${o.name}\` ${o.bench === undefined ? 'unset' : `= \`${o.bench}\``} (${o.why})`).join('; ') +
          `. The baseline, \`anomaly-fair-server.ts\`, does the app's work (contract validation, features from in-memory history, one ONNX session with micro-batching, contributions and worded reasons, the fold) on node:http with the same libraries.`,
      ],
      series,
      meta: { benchmark: 'anomaly-sweep', startedAt: startedAt.toISOString(), model: { version: model.version }, options: { ...opts }, overrides: app.overrides },
    });
    console.log(`\nsweep page: ${relative(WORKSPACE_ROOT, page)}`);
  } finally {
    await fair?.stop();
    await app.stop();
  }
}

async function main(): Promise<number> {
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.report) {
    console.log(buildReport(JSON.parse(readFileSync(resolve(args.report), 'utf8')) as SavedResult).text);
    return 0;
  }
  const model = resolveModel(opts.modelVersion);
  const baseline = opts.baselineVersion === undefined ? undefined : resolveModel(opts.baselineVersion);
  if (baseline && baseline.version === model.version) log(`warning: --baseline-version ${baseline.version} is the model under test: an A/A run (noise check)`);
  const appScenarios = opts.scenarios.filter((s) => !s.startsWith('bare-'));
  if (baseline && appScenarios.length === 0) log('warning: --baseline-version without any app scenario compares nothing');

  const stream = new TransactionStream({ users: opts.users, seed: opts.seed, userOrder: opts.userOrder });
  const started = performance.now();
  const pool = precompute(stream, Math.min(opts.pool, stream.capacity), model.features);
  log(
    `model ${MODEL}@${model.version} (${model.features.version}, ${model.features.count} features)` +
      (baseline ? `, baseline ${MODEL}@${baseline.version} (${baseline.features.version}, ${baseline.features.count} features)` : '') +
      `; ${fmt(pool.rows.length)} transactions of ${fmt(opts.users)} customers precomputed in ${fmt((performance.now() - started) / 1000, 1)} s ` +
      `(${fmt(pool.customers)} customers seen, mean history ${fmt(pool.meanHistory, 1)} transactions, ${fmt((100 * pool.withoutHistory) / Math.max(1, pool.rows.length), 1)}% first of their customer)`,
  );

  const startedAt = new Date();
  const runId = startedAt.toISOString().replace(/[-:.TZ]/g, '').slice(0, 17);
  if (opts.sweep) {
    await sweep(model, stream, pool, runId);
    return 0;
  }
  const load1 = loadavg()[0];
  if (load1 > 0.5) log(`warning: 1-minute load average is ${load1.toFixed(2)} before the run; results may be noisy`);
  const measurements: Measurement[] = [];
  // Rounds interleave the scenarios so drift in the machine spreads over all of them. With a
  // baseline, each app scenario runs the model and the baseline back to back, in alternating order
  // from round to round (A B, B A, A B...), so neither always runs first.
  for (let round = 1; round <= opts.rounds; round++) {
    for (const scenario of opts.scenarios) {
      const runs: Array<[ModelRef, Role]> = [[model, 'model']];
      if (baseline && !scenario.startsWith('bare-') && !scenario.startsWith('fair-')) {
        if (round % 2 === 1) runs.push([baseline, 'baseline']);
        else runs.unshift([baseline, 'baseline']);
      }
      for (const [target, role] of runs) measurements.push(await measure(scenario, round, target, role, stream, pool, runId));
    }
  }

  const result: SavedResult = {
    benchmark: 'anomaly',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, platform: process.platform, loadAverageBefore: load1, pinning },
    model: modelInfo(model),
    ...(baseline ? { baseline: modelInfo(baseline) } : {}),
    traffic: {
      users: opts.users,
      userOrder: opts.userOrder,
      seed: opts.seed,
      pool: pool.rows.length,
      poolCustomers: pool.customers,
      poolWithoutHistory: pool.withoutHistory,
      poolMeanHistory: pool.meanHistory,
      firstEventTime: new Date(stream.startMs).toISOString(),
    },
    options: { ...opts, modelDir: relative(WORKSPACE_ROOT, opts.modelDir) || '.', out: relative(WORKSPACE_ROOT, opts.out) },
    measurements,
    overrides: overridesByTarget,
  };
  const report = buildReport(result);
  console.log(report.text);

  mkdirSync(opts.out, { recursive: true });
  const file = join(opts.out, `anomaly-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const { measurements: raw, ...head } = result;
  const withBaseline = baseline
    ? { baselineSummary: report.baselineSummary, baselineComparison: report.baselineComparison, baselineTargetsMet: report.baselineMet }
    : {};
  writeFileSync(
    file,
    `${JSON.stringify({ ...head, summary: report.summary, ratios: report.verdicts, allTargetsMet: report.allMet, ...withBaseline, measurements: raw }, null, 2)}\n`,
  );
  console.log(`\nresults: ${relative(WORKSPACE_ROOT, file)}`);

  if ([...report.summary, ...report.baselineSummary].some((s) => s.failures > 0 || s.degraded > 0)) return 1;
  return opts.strict && (report.allMet === false || report.baselineMet === false) ? 2 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`benchmark failed: ${e.stack ?? e.message}`);
    killAllChildren();
    process.exit(1);
  },
);
