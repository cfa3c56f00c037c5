import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { http } from './support/http';
import { ROOT, runToExit, startApp, type RunningApp } from './support/processes';

/**
 * "Train on your own history": a bank exports its labelled card transactions to a CSV (the
 * contract's fields, locations as flat columns, is_fraud), trains the detector with the
 * documented command (a real child process) and serves the result with the unchanged
 * anomaly-detector app pointed at it by MODEL_DIR. The CSV is written here by a small generator
 * of its own, unrelated to the trainer's simulator.
 */

const HEADER = 'transaction_id,user_id,amount,currency,timestamp,merchant_category,channel,merchant_lat,merchant_lon,home_lat,home_lon,is_fraud';
const DAY = 86_400_000;
const START = Date.parse('2026-03-02T00:00:00Z');

/** Park-Miller, so the CSV is the same on every run. */
function random(seed: number) {
  let s = seed;
  return () => (s = (s * 48271) % 2147483647) / 2147483647;
}

interface Row {
  id: string;
  user: string;
  amount: number;
  ts: number;
  category: string;
  channel: string;
  at?: [number, number];
  fraud: boolean;
}

function bankHistory(customers: number, days: number): Row[] {
  const rnd = random(20260302);
  const rows: Row[] = [];
  const home: [number, number] = [48.8566, 2.3522];
  for (let c = 0; c < customers; c++) {
    const user = `cust-${c}`;
    const scale = 0.5 + rnd() * 2;
    const hours = 9 + rnd() * 6;
    const fraudDay = c % 3 === 0 ? 10 + Math.floor(rnd() * (days - 12)) : -1;
    for (let d = 0; d < days; d++) {
      const perDay = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < perDay; k++) {
        const category = rnd() < 0.6 ? 'grocery' : rnd() < 0.5 ? 'restaurants' : 'gas_transport';
        const amount = Math.round(scale * (15 + rnd() * 50) * 100) / 100;
        const ts = START + d * DAY + (hours + (rnd() - 0.5) * 6) * 3_600_000;
        rows.push({ id: `${user}-${d}-${k}`, user, amount, ts, category, channel: 'in_store', at: [home[0] + (rnd() - 0.5) * 0.05, home[1] + (rnd() - 0.5) * 0.05], fraud: false });
      }
      if (d === fraudDay || d === fraudDay + 1) {
        for (let k = 0; k < 3; k++) {
          const ts = START + d * DAY + (1 + rnd() * 3) * 3_600_000 + k * 600_000;
          rows.push({ id: `${user}-f${d}-${k}`, user, amount: Math.round(scale * (400 + rnd() * 900) * 100) / 100, ts, category: 'shopping', channel: 'online', fraud: true });
        }
      }
    }
  }
  return rows.sort((a, b) => a.ts - b.ts);
}

function toCsv(rows: Row[]): string {
  const line = (r: Row) =>
    [r.id, r.user, r.amount, 'EUR', new Date(r.ts).toISOString(), r.category, r.channel, r.at?.[0] ?? '', r.at?.[1] ?? '', 48.8566, 2.3522, r.fraud ? 1 : 0].join(',');
  return [HEADER, ...rows.map(line)].join('\n') + '\n';
}

/** The documented command (`npm run train:anomaly -- --transactions ...`), without npm and Nx in between. */
async function train(args: string[]): Promise<{ code: number; out: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TS_NODE_')));
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['-r', require.resolve('ts-node/register/transpile-only'), '-r', require.resolve('tsconfig-paths/register'), 'tools/anomaly-trainer/src/main.ts', ...args],
      { cwd: ROOT, env: { ...env, TS_NODE_PROJECT: join(ROOT, 'tools', 'anomaly-trainer', 'tsconfig.lib.json'), TS_NODE_BASEURL: ROOT } },
    );
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

async function untilReady(app: RunningApp) {
  for (let i = 0; i < 300; i++) {
    if ((await http(`${app.url}/health/ready`)).status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${app.name} never became ready:\n${app.lines.join('\n')}`);
}

interface Prediction {
  transaction_id: string;
  score: number;
  is_anomaly: boolean;
  threshold: number;
  reasons: string[];
  model: { name: string; version: string };
}

describe('own transactions: train the anomaly detector on a CSV and serve it', () => {
  let work: string;
  let modelDir: string;
  let manifest: { version: string; feature_version: string; threshold: number; operating_points: { alert_rate: number; threshold: number }[]; evaluation: { validation: { roc_auc: number; fraud: number } } };
  let app: RunningApp | undefined;
  let trainLog: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'own-transactions-'));
    modelDir = join(work, 'models');
    writeFileSync(join(work, 'bank.csv'), toCsv(bankHistory(60, 45)));
    const r = await train(['--transactions', join(work, 'bank.csv'), '--version', '4.0.0', '--out', join(modelDir, 'anomaly-detector', '4.0.0')]);
    trainLog = r.out;
    expect(r).toMatchObject({ code: 0 });
    manifest = JSON.parse(readFileSync(join(modelDir, 'anomaly-detector', '4.0.0', 'manifest.json'), 'utf8'));
  }, 240_000);

  afterAll(async () => {
    await app?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('trains on the time-ordered history and validates on its later part', () => {
    process.stdout.write(`own transactions: ${trainLog.split('\n').filter((l) => /validation|transactions of|kept/.test(l)).join(' | ')}\n`);
    expect(manifest.version).toBe('4.0.0');
    expect(manifest.feature_version).toBe('anomaly-features/2');
    expect(manifest.evaluation.validation.fraud).toBeGreaterThan(0);
    // Night-time online bursts far above each customer's grocery amounts: any working model ranks them first.
    expect(manifest.evaluation.validation.roc_auc).toBeGreaterThan(0.95);
    expect(manifest.operating_points.map((p) => p.alert_rate)).toEqual([0.001, 0.002, 0.005, 0.01, 0.02]);
  });

  it('is served by the unchanged app: a usual purchase passes, a burst of night-time online spending is flagged', async () => {
    // This bank's validation period is 1.5 % fraud: the 2 % operating point, not the 0.5 % default.
    app = await startApp('anomaly-detector', { MODEL_DIR: modelDir, ANOMALY_ALERT_RATE: '0.02' });
    await untilReady(app);
    const base = Date.parse('2026-05-04T00:00:00Z');
    const history = Array.from({ length: 30 }, (_, i) => ({
      transaction_id: `new-${i}`,
      user_id: 'new-customer',
      amount: 30 + (i % 7) * 4,
      currency: 'EUR',
      timestamp: new Date(base + i * 0.5 * DAY + 12 * 3_600_000).toISOString(),
      merchant_category: 'grocery',
      channel: 'in_store',
      merchant_location: { lat: 48.86, lon: 2.35 },
      home_location: { lat: 48.8566, lon: 2.3522 },
    }));
    const res = await http(`${app.url}/predict/anomaly/batch`, { body: { transactions: history } });
    expect(res.status).toBe(200);
    const when = base + 16 * DAY;
    const usual = await http(`${app.url}/predict/anomaly`, {
      body: { ...history[0], transaction_id: 'usual', amount: 41.5, timestamp: new Date(when + 13 * 3_600_000).toISOString() },
    });
    const odd = await http(`${app.url}/predict/anomaly`, {
      body: { ...history[0], transaction_id: 'odd', amount: 1250, merchant_category: 'shopping', channel: 'online', merchant_location: undefined, timestamp: new Date(when + 2 * 3_600_000).toISOString() },
    });
    const u = usual.json as Prediction;
    const o = odd.json as Prediction;
    process.stdout.write(`own transactions: usual ${u.score} (${u.is_anomaly}), odd ${o.score} (${o.is_anomaly}) at threshold ${o.threshold}; reasons ${JSON.stringify(o.reasons)}\n`);
    expect(u.model).toEqual({ name: 'anomaly-detector', version: '4.0.0' });
    // ANOMALY_ALERT_RATE picked the manifest's 2 % operating point.
    expect(o.threshold).toBe(manifest.operating_points.find((p) => p.alert_rate === 0.02)?.threshold);
    expect(o.score).toBeGreaterThan(u.score);
    expect(o.is_anomaly).toBe(true);
    expect(u.is_anomaly).toBe(false);
    expect(o.reasons.length).toBeGreaterThan(0);
  });

  it('refuses an alert rate the model has no operating point for, naming the ones it has', async () => {
    const { code, output } = await runToExit('anomaly-detector', { MODEL_DIR: modelDir, ANOMALY_ALERT_RATE: '0.0042' });
    expect(code).not.toBe(0);
    expect(output).toMatch(/no operating point for ANOMALY_ALERT_RATE=0.0042 \(it lists 0.001, 0.002, 0.005, 0.01, 0.02\)/);
  });

  it('rejects a CSV with bad rows, naming each line and field, and writes nothing', async () => {
    const bad = [HEADER, 'a,u1,12abc,EUR,2026-03-02T10:00:00Z,grocery,in_store,,,,,0', 'b,u1,10,EUR,2026-03-02T11:00:00Z,groceries,in_store,,,,,0', 'c,u1,10,EUR,2026-03-02T12:00:00Z,grocery,in_store,48.8,,,,1'].join('\n');
    writeFileSync(join(work, 'bad.csv'), bad + '\n');
    const r = await train(['--transactions', join(work, 'bad.csv'), '--version', '4.0.1', '--out', join(work, 'never')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/bad\.csv:2: amount/);
    expect(r.out).toMatch(/bad\.csv:3: merchant_category/);
    expect(r.out).toMatch(/bad\.csv:4: merchant_lon/);
    expect(() => readFileSync(join(work, 'never', 'manifest.json'))).toThrow();
  }, 60_000);
});
