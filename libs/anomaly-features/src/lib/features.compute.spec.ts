import {
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_VERSION,
  computeFeatures,
  featureIndex,
  isRoundAmount,
  type FeatureName,
} from './features.compute';
import type { TransactionInput } from './features.types';
import { RECENT_MAX, foldTransaction, type UserProfile } from './user-profile';

const T0 = Date.parse('2026-03-02T12:00:00Z');
let seq = 0;
function tx(over: Partial<TransactionInput> = {}): TransactionInput {
  seq += 1;
  return {
    transaction_id: `f-${seq}`,
    user_id: 'u-1',
    amount: 50,
    currency: 'EUR',
    timestamp: '2026-03-02T12:00:00Z',
    merchant_category: 'grocery',
    channel: 'in_store',
    merchant_location: { lat: 52.52, lon: 13.405 },
    ...over,
  };
}
const at = (minutes: number): string =>
  new Date(T0 + minutes * 60_000).toISOString();
const foldAll = (txs: TransactionInput[]): UserProfile =>
  txs.reduce<UserProfile | undefined>(
    (p, t) => foldTransaction(p, t),
    undefined,
  ) as UserProfile;
function features(
  p: UserProfile | undefined,
  t: TransactionInput,
): Record<FeatureName, number> {
  const { vector, names } = computeFeatures(p, t);
  return Object.fromEntries(names.map((n, i) => [n, vector[i]])) as Record<
    FeatureName,
    number
  >;
}

/** Thirty days of a Berlin customer buying groceries (~50 EUR) and eating out, in the afternoon. */
function berliner(): UserProfile {
  const txs: TransactionInput[] = [];
  for (let d = 0; d < 30; d++) {
    txs.push(
      tx({
        timestamp: at(d * 1440 - 60 * 24 * 30),
        amount: 45 + (d % 5) * 3,
        home_location: { lat: 52.52, lon: 13.4 },
      }),
    );
    if (d % 2 === 0) {
      txs.push(
        tx({
          timestamp: at(d * 1440 - 60 * 24 * 30 + 240),
          amount: 25 + (d % 3),
          merchant_category: 'restaurants',
        }),
      );
    }
  }
  return foldAll(txs);
}

describe('computeFeatures', () => {
  it('exposes a stable feature list', () => {
    expect(FEATURE_NAMES).toHaveLength(FEATURE_COUNT);
    expect(new Set(FEATURE_NAMES).size).toBe(FEATURE_COUNT);
    expect(FEATURE_VERSION).toMatch(/^anomaly-features\/\d+$/);
    expect(featureIndex('no_profile')).toBe(FEATURE_COUNT - 1);
  });

  it('gives neutral customer features and the no_profile flag without a profile', () => {
    const { vector, names } = computeFeatures(
      undefined,
      tx({ amount: 120, home_location: { lat: 52.52, lon: 13.4 } }),
    );
    expect(vector).toBeInstanceOf(Float32Array);
    expect(names).toBe(FEATURE_NAMES);
    const f = features(undefined, tx({ amount: 120 }));
    expect(f.no_profile).toBe(1);
    expect(f.history_size).toBe(0);
    expect(f.amount_z_user).toBe(0);
    expect(f.amount_ratio_user).toBe(1);
    expect(f.velocity_24h).toBe(1);
    expect(f.count_24h).toBe(0);
    expect(f.category_new).toBe(0);
    expect(f.travel_speed_kmh).toBe(0);
    expect(f.log_amount_usd).toBeCloseTo(Math.log1p(120 * 1.08), 5);
    // A home given with the transaction still places it.
    expect(vector[featureIndex('distance_home_km')]).toBeLessThan(1);
    expect(vector.every(Number.isFinite)).toBe(true);
  });

  it('measures the amount against the customer and the category', () => {
    const p = berliner();
    const f = features(p, tx({ timestamp: at(0), amount: 700 }));
    expect(f.no_profile).toBe(0);
    expect(f.history_size).toBe(45);
    expect(f.amount_ratio_category).toBeGreaterThan(13);
    expect(f.amount_ratio_category).toBeLessThan(15);
    expect(f.amount_z_category).toBeGreaterThan(8);
    expect(f.amount_ratio_max).toBeCloseTo(700 / 57, 2);
    const usual = features(p, tx({ timestamp: at(0), amount: 50 }));
    expect(Math.abs(usual.amount_z_category)).toBeLessThan(1);
  });

  it('flags a first category and a first channel', () => {
    const p = berliner();
    const f = features(
      p,
      tx({ timestamp: at(0), merchant_category: 'travel', channel: 'atm' }),
    );
    expect(f.category_new).toBe(1);
    expect(f.category_share).toBe(0);
    expect(f.channel_new).toBe(1);
    expect(f.channel_atm).toBe(1);
    const g = features(p, tx({ timestamp: at(0) }));
    expect(g.category_new).toBe(0);
    expect(g.category_share).toBeCloseTo(30 / 45, 5);
    expect(g.channel_new).toBe(0);
  });

  it('reads local time from the offset, else from the place', () => {
    const tokyo = features(
      undefined,
      tx({
        timestamp: '2026-03-02T02:30:00+09:00',
        merchant_location: { lat: 35.7, lon: 139.7 },
      }),
    );
    expect(tokyo.local_hour).toBeCloseTo(2.5, 5);
    expect(tokyo.night).toBe(1);
    // 17:30 UTC in Tokyo (lon 139.7, solar offset ~9.3 h) is 02:48 local.
    const solar = features(
      undefined,
      tx({
        timestamp: '2026-03-02T17:30:00Z',
        merchant_location: { lat: 35.7, lon: 139.7 },
      }),
    );
    expect(solar.local_hour).toBeCloseTo(17.5 + 139.7 / 15 - 24, 4);
    expect(solar.night).toBe(1);
    const utc = features(
      undefined,
      tx({
        timestamp: '2026-03-02T17:30:00',
        channel: 'online',
        merchant_location: undefined,
      }),
    );
    expect(utc.local_hour).toBeCloseTo(17.5, 5);
    const compact = features(
      undefined,
      tx({ timestamp: '2026-03-02T23:30:00-0530', channel: 'online' }),
    );
    expect(compact.local_hour).toBeCloseTo(23.5, 5);
  });

  it('scores hours the customer never uses as rare', () => {
    const p = berliner();
    const usual = features(p, tx({ timestamp: at(0) }));
    const odd = features(p, tx({ timestamp: at(-9 * 60) }));
    expect(odd.hour_rarity).toBeGreaterThan(2);
    expect(usual.hour_rarity).toBeLessThan(0);
  });

  it('counts velocity, recent tiny amounts and spend against the usual rate', () => {
    let p = berliner();
    for (let i = 0; i < 5; i++) {
      p = foldTransaction(
        p,
        tx({
          timestamp: at(i * 3),
          amount: 1,
          channel: 'online',
          merchant_category: 'misc',
        }),
      );
    }
    const f = features(
      p,
      tx({
        timestamp: at(20),
        amount: 900,
        channel: 'online',
        merchant_category: 'shopping',
      }),
    );
    expect(f.count_1h).toBe(5);
    expect(f.tiny_count_24h).toBe(5);
    // 5 earlier in 24 h; 50 transactions over 30 days and 12 minutes.
    expect(f.velocity_24h).toBeCloseTo(6 / (50 / (30 + 12 / 1440) + 1), 5);
    expect(f.log_minutes_since_last).toBeCloseTo(Math.log1p(8), 5);
    expect(f.spend_24h_ratio).toBeGreaterThan(10);
    expect(f.tiny_amount).toBe(0);
    expect(
      features(p, tx({ timestamp: at(20), amount: 1.2 })).tiny_amount,
    ).toBe(1);
  });

  it('falls back to hourly buckets when the exact list does not reach back far enough', () => {
    const burst = Array.from({ length: RECENT_MAX + 12 }, (_, i) =>
      tx({ timestamp: at(i / 2), amount: 5 }),
    );
    const p = foldAll(burst);
    const f = features(p, tx({ timestamp: at(40) }));
    expect(f.count_1h).toBe(RECENT_MAX + 12);
    expect(f.count_24h).toBe(RECENT_MAX + 12);
  });

  it('measures distance from home and the implied travel speed', () => {
    const p = berliner();
    const seen = foldTransaction(
      p,
      tx({ timestamp: at(0), merchant_location: { lat: 52.53, lon: 13.41 } }),
    );
    const lisbon = { lat: 38.72, lon: -9.14 };
    const f = features(
      seen,
      tx({
        timestamp: at(40),
        merchant_location: lisbon,
        home_location: { lat: 52.52, lon: 13.4 },
      }),
    );
    expect(f.distance_home_km).toBeGreaterThan(2200);
    expect(f.distance_home_km).toBeLessThan(2400);
    expect(f.distance_places_km).toBeGreaterThan(2200);
    expect(f.travel_speed_kmh).toBeGreaterThan(3000);
    const later = features(
      seen,
      tx({ timestamp: at(60 * 12), merchant_location: lisbon }),
    );
    expect(later.travel_speed_kmh).toBeLessThan(250);
    // Online merchant locations are not where the card holder is.
    const online = features(
      seen,
      tx({ timestamp: at(40), channel: 'online', merchant_location: lisbon }),
    );
    expect(online.distance_home_km).toBe(0);
    expect(online.travel_speed_kmh).toBe(0);
  });

  it('converts currencies before comparing amounts', () => {
    const p = berliner();
    const yen = features(
      p,
      tx({ timestamp: at(0), amount: 7500, currency: 'JPY' }),
    );
    expect(yen.amount_ratio_category).toBeGreaterThan(0.8);
    expect(yen.amount_ratio_category).toBeLessThan(1.2);
    expect(yen.foreign_currency).toBe(1);
    expect(features(p, tx({ timestamp: at(0) })).foreign_currency).toBe(0);
    // Unknown codes are taken at one USD per unit rather than rejected.
    expect(
      features(undefined, tx({ amount: 10, currency: 'XTS' })).log_amount_usd,
    ).toBeCloseTo(Math.log1p(10), 5);
  });

  it('recognises cash-like round amounts', () => {
    expect([20, 40, 250, 1500, 10000, 300].every(isRoundAmount)).toBe(true);
    expect([5, 19.99, 47, 123, 1250.5, 1510].some(isRoundAmount)).toBe(false);
  });

  it('scores a transaction older than the latest one against the time before it', () => {
    const p = foldAll([tx({ timestamp: at(0) }), tx({ timestamp: at(600) })]);
    const f = features(p, tx({ timestamp: at(30) }));
    expect(f.count_1h).toBe(1);
    expect(f.log_minutes_since_last).toBeCloseTo(Math.log1p(30), 5);
    const before = features(p, tx({ timestamp: at(-30) }));
    expect(before.count_24h).toBe(0);
    expect(before.account_age_days).toBe(0);
  });
});
