/**
 * Gateway benchmark: what the front door costs. In one run, on one machine, one target at a time:
 *   - the bare micro-batching node:http + onnxruntime server of the intent benchmark (the baseline),
 *   - the gateway in front of the real intent-classifier app, single queries, every one a cache miss,
 *   - the same gateway answering from its cache (a small pool of queries, warmed first),
 *   - the latency the gateway adds at c=1: gateway -> app against the app alone (pre-opened connections).
 *
 *   npx ts-node --transpile-only -P tools/bench/tsconfig.json tools/bench/src/gateway.bench.ts [--duration 10] [--rounds 1]
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { killAllChildren } from './lib/processes';
import { assertDistinct, QueryCursor, QueryGenerator, readCorpus } from './lib/queries';
import { fmt, median, ratio, renderTable } from './lib/report';
import { runLoad, startApp, startBareServer, WORKSPACE_ROOT, type LoadResult, type RunningServer } from './lib/targets';
import { LOAD_OPTIONS } from './lib/cli';

const DEV_KEY = 'ml-dev-key-do-not-use-in-production';
const { values: args } = parseArgs({
  options: {
    ...LOAD_OPTIONS,
    'hit-pool': { type: 'string', default: '200' },
    corpus: { type: 'string', default: 'tools/intent-trainer/data/validation' },
    out: { type: 'string', default: 'tools/bench/results' },
  },
});
const durationSec = Number(args.duration);
const warmupSec = Number(args.warmup);
const rounds = Number(args.rounds);
const connections = Number(args.connections);

function modelPath(): string {
  const dir = join(WORKSPACE_ROOT, 'models', 'intent-classifier');
  const versions = readdirSync(dir).filter((v) => /^\d+\.\d+\.\d+$/.test(v)).sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  return join(dir, versions[0], 'model.onnx');
}

const queryBody = (cursor: QueryCursor) => () => JSON.stringify({ query: cursor.next() });

interface Round {
  bare: LoadResult;
  miss: LoadResult;
  hit: LoadResult;
  appC1: LoadResult;
  gatewayC1: LoadResult;
}

async function oneRound(generator: QueryGenerator): Promise<Round> {
  const load = (url: string, cursor: QueryCursor, over: Partial<Parameters<typeof runLoad>[1]> = {}) =>
    runLoad(url, { connections, durationSec, warmupSec, path: '/predict/intent', method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': DEV_KEY }, body: queryBody(cursor), ...over });

  let bareServer: RunningServer | undefined;
  let bare: LoadResult;
  try {
    bareServer = await startBareServer('batched', modelPath());
    bare = await load(bareServer.url, new QueryCursor(generator));
  } finally {
    await bareServer?.stop();
  }

  const app = await startApp('intent-classifier');
  const gateway = await startApp('gateway', {
    INTENT_CLASSIFIER_URL: app.url,
    RATE_LIMIT_REQUESTS: '100000000',
    CACHE_MAX_SIZE: '1000000',
  });
  try {
    // Distinct queries (another seed than the baseline's), so every gateway request is a cache miss.
    const miss = await load(gateway.url, new QueryCursor(new QueryGenerator(readCorpus(resolve(WORKSPACE_ROOT, args.corpus)), 2)));
    const pool = Number(args['hit-pool']);
    const hitCursor = new QueryCursor(new QueryGenerator(readCorpus(resolve(WORKSPACE_ROOT, args.corpus)), 99), pool);
    const hit = await load(gateway.url, hitCursor);
    const c1 = { connections: 1, engine: 'preconnected' as const };
    const appC1 = await load(app.url, new QueryCursor(new QueryGenerator(readCorpus(resolve(WORKSPACE_ROOT, args.corpus)), 7)), c1);
    const gatewayC1 = await load(gateway.url, new QueryCursor(new QueryGenerator(readCorpus(resolve(WORKSPACE_ROOT, args.corpus)), 8)), c1);
    return { bare, miss, hit, appC1, gatewayC1 };
  } finally {
    await gateway.stop();
    await app.stop();
  }
}

async function main() {
  const generator = new QueryGenerator(readCorpus(resolve(WORKSPACE_ROOT, args.corpus)), 1);
  assertDistinct(generator, 20_000);
  const results: Round[] = [];
  for (let r = 0; r < rounds; r++) results.push(await oneRound(generator));
  const m = (f: (x: Round) => number) => median(results.map(f));
  const bare = m((x) => x.bare.reqPerSec);
  const rows = [
    { target: 'bare micro-batching server (baseline)', rps: bare, p50: m((x) => x.bare.latencyMs.p50), p99: m((x) => x.bare.latencyMs.p99) },
    { target: 'gateway -> app, cache misses', rps: m((x) => x.miss.reqPerSec), p50: m((x) => x.miss.latencyMs.p50), p99: m((x) => x.miss.latencyMs.p99) },
    { target: 'gateway, cache hits', rps: m((x) => x.hit.reqPerSec), p50: m((x) => x.hit.latencyMs.p50), p99: m((x) => x.hit.latencyMs.p99) },
    { target: 'app alone, c=1', rps: m((x) => x.appC1.reqPerSec), p50: m((x) => x.appC1.latencyMs.p50), p99: m((x) => x.appC1.latencyMs.p99) },
    { target: 'gateway -> app, c=1', rps: m((x) => x.gatewayC1.reqPerSec), p50: m((x) => x.gatewayC1.latencyMs.p50), p99: m((x) => x.gatewayC1.latencyMs.p99) },
  ];
  console.log(`\ngateway benchmark: c=${connections}, ${durationSec}s per scenario, ${rounds} round(s), ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}`);
  console.log(
    renderTable(rows, [
      { header: 'target', value: (r) => r.target },
      { header: 'req/s', value: (r) => fmt(r.rps), align: 'right' },
      { header: 'x baseline', value: (r) => fmt(ratio(r.rps, bare), 2), align: 'right' },
      { header: 'p50 ms', value: (r) => fmt(r.p50, 3), align: 'right' },
      { header: 'p99 ms', value: (r) => fmt(r.p99, 3), align: 'right' },
    ]),
  );
  const added = (m((x) => x.gatewayC1.latencyMs.p50) ?? 0) - (m((x) => x.appC1.latencyMs.p50) ?? 0);
  console.log(`latency the gateway adds at c=1 (p50): ${added.toFixed(3)} ms`);
  const errors = results.flatMap((x) => [x.miss, x.hit, x.gatewayC1]).reduce((a, r) => a + r.non2xx + r.errors, 0);
  console.log(`non-2xx or errors through the gateway: ${errors}`);
  mkdirSync(resolve(WORKSPACE_ROOT, args.out), { recursive: true });
  const file = resolve(WORKSPACE_ROOT, args.out, `gateway-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ args, rows, addedLatencyMsP50: added, rounds: results }, null, 2));
  console.log(`results: ${file}`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => killAllChildren());
