import { computeFeatures } from '@ml/anomaly-features';
import { createHash } from 'node:crypto';
import {
  SCENARIOS,
  SHIFTED_CONFIG,
  TRAINING_CONFIG,
  type SimConfig,
} from './sim.config';
import { Rng } from './sim.random';
import { isoWithOffset, simulate, simulateCustomer } from './simulator';

const small = (cfg: SimConfig): SimConfig => ({
  ...cfg,
  customers: 80,
  days: 30,
  warmupDays: 10,
});

function digest(cfg: SimConfig): string {
  const h = createHash('sha256');
  for (const s of simulate(cfg)) h.update(JSON.stringify(s));
  return h.digest('hex');
}

describe('Rng', () => {
  it('repeats for a seed and stream and differs across streams', () => {
    const a = new Rng(42, 1);
    const b = new Rng(42, 1);
    const c = new Rng(42, 2);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('draws from the distributions it names', () => {
    const r = new Rng(7);
    const n = 20_000;
    let normal = 0;
    let poisson = 0;
    let big = 0;
    for (let i = 0; i < n; i++) {
      normal += r.normal();
      poisson += r.poisson(3);
      big += r.poisson(50);
    }
    expect(normal / n).toBeCloseTo(0, 1);
    expect(poisson / n).toBeCloseTo(3, 1);
    expect(big / n).toBeGreaterThan(49);
    expect(big / n).toBeLessThan(51);
    expect(r.poisson(0)).toBe(0);
    const picks = Array.from({ length: 1000 }, () =>
      r.weighted(['a', 'b'], [1, 3]),
    );
    expect(picks.filter((p) => p === 'b').length).toBeGreaterThan(700);
    const ints = Array.from({ length: 500 }, () => r.int(2, 4));
    expect(new Set(ints)).toEqual(new Set([2, 3, 4]));
  });
});

describe('simulator', () => {
  it('is deterministic for a configuration and changes with the seed', () => {
    const cfg = small(TRAINING_CONFIG);
    expect(digest(cfg)).toBe(digest(cfg));
    expect(digest({ ...cfg, seed: cfg.seed + 1 })).not.toBe(digest(cfg));
    expect(JSON.stringify(simulateCustomer(cfg, 17))).toBe(
      JSON.stringify([...simulate(cfg, 18)][17]),
    );
  });

  it('produces valid transactions in arrival order with every fraud scenario labelled', () => {
    const cfg: SimConfig = {
      ...small(TRAINING_CONFIG),
      customers: 150,
      days: 30,
      fraud: { ...TRAINING_CONFIG.fraud, episodesPerYear: 12 },
    };
    const seen = new Set<string>();
    const problems: string[] = [];
    const ids = new Set<string>();
    let late = 0;
    let total = 0;
    for (const s of simulate(cfg)) {
      let prev = -Infinity;
      for (const t of s.transactions) {
        total++;
        if (t.arrival < prev)
          problems.push(`${t.tx.transaction_id} out of arrival order`);
        prev = t.arrival;
        if (t.arrival > t.ts) late++;
        if (t.tx.user_id !== s.userId)
          problems.push(`${t.tx.transaction_id} has another user`);
        if (ids.has(t.tx.transaction_id))
          problems.push(`${t.tx.transaction_id} repeated`);
        ids.add(t.tx.transaction_id);
        if (Date.parse(t.tx.timestamp) !== t.ts)
          problems.push(`${t.tx.timestamp} is not ${t.ts}`);
        if (!(t.tx.amount > 0))
          problems.push(`${t.tx.transaction_id} amount ${t.tx.amount}`);
        if (t.fraud !== (t.scenario !== undefined))
          problems.push(`${t.tx.transaction_id} label without scenario`);
        if (t.scenario) seen.add(t.scenario);
        if (!computeFeatures(undefined, t.tx).vector.every(Number.isFinite))
          problems.push(`${t.tx.transaction_id} features`);
      }
    }
    expect(problems).toEqual([]);
    expect([...seen].sort()).toEqual([...SCENARIOS].sort());
    expect(late / total).toBeGreaterThan(0.005);
    expect(late / total).toBeLessThan(0.05);
  });

  it('simulates a different population in the shifted configuration', () => {
    const currencies = (cfg: SimConfig): Set<string> => {
      const out = new Set<string>();
      for (const s of simulate(small(cfg), 60))
        out.add(s.transactions[0]?.tx.currency ?? '');
      return out;
    };
    const train = currencies(TRAINING_CONFIG);
    const shifted = currencies(SHIFTED_CONFIG);
    expect(shifted.has('BRL') || shifted.has('INR') || shifted.has('MXN')).toBe(
      true,
    );
    expect(train.has('BRL') || train.has('INR') || train.has('MXN')).toBe(
      false,
    );
  });

  it('writes local offsets in ISO 8601', () => {
    const ts = Date.parse('2026-01-05T20:30:00Z');
    expect(isoWithOffset(ts, 9)).toBe('2026-01-06T05:30:00+09:00');
    expect(isoWithOffset(ts, -5)).toBe('2026-01-05T15:30:00-05:00');
    expect(isoWithOffset(ts, 5.5)).toBe('2026-01-06T02:00:00+05:30');
    expect(Date.parse(isoWithOffset(ts, 5.5))).toBe(ts);
  });
});
