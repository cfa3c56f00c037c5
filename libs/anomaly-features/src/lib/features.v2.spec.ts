import { FEATURES_V1, FEATURES_V2, featureSetOf } from './feature-set';
import { computeNormalized } from './features.compute';
import type { TransactionInput } from './features.types';
import { FEATURE_NAMES_2, type FeatureName2 } from './features.v2';
import { normalizeTransaction } from './transaction.normalize';
import { isUserProfile, type UserProfile } from './user-profile';

const T0 = Date.parse('2026-03-02T12:00:00Z');
const HOME = { lat: 52.52, lon: 13.405 };
let seq = 0;
function tx(over: Partial<TransactionInput> = {}): TransactionInput {
  seq += 1;
  return {
    transaction_id: `v2-${seq}`,
    user_id: 'u-1',
    amount: 50,
    currency: 'EUR',
    timestamp: '2026-03-02T12:00:00Z',
    merchant_category: 'grocery',
    channel: 'in_store',
    merchant_location: HOME,
    home_location: HOME,
    ...over,
  };
}
const at = (hours: number): string =>
  new Date(T0 + hours * 3_600_000).toISOString();
function fold(txs: TransactionInput[]): UserProfile {
  return txs.reduce<UserProfile | undefined>(
    (p, t) => FEATURES_V2.fold(p, t),
    undefined,
  ) as UserProfile;
}
function f(
  p: UserProfile | undefined,
  t: TransactionInput,
): Record<FeatureName2, number> {
  const { vector, names } = FEATURES_V2.compute(p, t);
  expect(names).toBe(FEATURE_NAMES_2);
  return Object.fromEntries(names.map((n, i) => [n, vector[i]])) as Record<
    FeatureName2,
    number
  >;
}
/** Two weeks of daytime groceries around 40-60 EUR, one every ~12 h, near home. */
function history(scale = 1, currency = 'EUR'): TransactionInput[] {
  return Array.from({ length: 28 }, (_, i) =>
    tx({
      amount: Math.round(scale * (40 + (i % 5) * 5) * 100) / 100,
      currency,
      timestamp: at(-24 * 14 + i * 12),
      merchant_location: {
        lat: HOME.lat + ((i % 3) - 1) * 0.01,
        lon: HOME.lon,
      },
    }),
  );
}

describe('feature version 2', () => {
  it('has no absolute amount, category code or clock among its inputs', () => {
    for (const absolute of [
      'log_amount_usd',
      'category_code',
      'local_hour',
      'night',
      'channel_online',
      'channel_atm',
      'tiny_amount',
      'history_size',
      'account_age_days',
    ]) {
      expect(FEATURE_NAMES_2).not.toContain(absolute);
    }
    expect(FEATURES_V2.count).toBe(FEATURE_NAMES_2.length);
    expect(featureSetOf('anomaly-features/2')).toBe(FEATURES_V2);
    expect(featureSetOf('anomaly-features/1')).toBe(FEATURES_V1);
    expect(() => featureSetOf('anomaly-features/9')).toThrow(
      /not one this build computes/,
    );
  });

  it('gives the same values for the same customer in another currency scale (nothing learns a currency)', () => {
    // The same habits at 100x the amounts (as in a currency with 100x smaller units).
    const a = fold(history(1, 'EUR'));
    const b = fold(history(100, 'JPY'));
    const ta = tx({ amount: 400, timestamp: at(3), currency: 'EUR' });
    const tb = tx({ amount: 40_000, timestamp: at(3), currency: 'JPY' });
    const fa = f(a, ta);
    const fb = f(b, tb);
    for (const name of FEATURE_NAMES_2)
      expect(fb[name]).toBeCloseTo(fa[name], 4);
  });

  it('scores the amount against the customer: the same 400 is usual for one customer and 8x for another', () => {
    const small = fold(history(1));
    const big = fold(history(10));
    const t = tx({ amount: 400, timestamp: at(2) });
    expect(f(small, t).amount_ratio_category).toBeGreaterThan(7);
    expect(f(small, t).amount_z_category).toBeGreaterThan(3);
    expect(f(small, t).amount_rank_recent).toBe(1);
    expect(f(big, t).amount_ratio_category).toBeLessThan(1.1);
    expect(f(big, t).amount_rank_recent).toBeLessThan(1);
  });

  it('measures the hour, the pace and the novelty against the customer', () => {
    const p = fold(history());
    const day = f(p, tx({ timestamp: at(1) }));
    // 03:00 local (Berlin, from the home's longitude) is rare for a customer who shops around midday.
    const night = f(
      p,
      tx({
        timestamp: new Date(Date.parse('2026-03-03T02:00:00Z')).toISOString(),
      }),
    );
    expect(night.hour_rarity).toBeGreaterThan(day.hour_rarity + 1);
    // Minutes after the previous transaction for someone who pays twice a day.
    const soon = fold([...history(), tx({ timestamp: at(0) })]);
    expect(f(soon, tx({ timestamp: at(0.05) })).gap_rel).toBeGreaterThan(3);
    expect(day.gap_rel).toBeGreaterThan(-1);
    const novel = f(
      p,
      tx({
        merchant_category: 'travel',
        channel: 'online',
        merchant_location: undefined,
        timestamp: at(1),
      }),
    );
    expect(novel).toMatchObject({
      category_new: 1,
      category_share: 0,
      channel_new: 1,
      channel_share: 0,
    });
    expect(day).toMatchObject({
      category_new: 0,
      category_share: 1,
      channel_new: 0,
      channel_share: 1,
    });
  });

  it('places an in-person purchase against the customer usual radius', () => {
    const p = fold(history());
    expect(p.radius?.n).toBe(28);
    const near = f(
      p,
      tx({
        timestamp: at(1),
        merchant_location: { lat: HOME.lat + 0.01, lon: HOME.lon },
      }),
    );
    const far = f(
      p,
      tx({
        timestamp: at(1),
        merchant_location: { lat: 48.1351, lon: 11.582 },
      }),
    );
    expect(far.distance_home_z).toBeGreaterThan(5);
    expect(Math.abs(near.distance_home_z)).toBeLessThan(2);
  });

  it('counts probe-sized payments of the last day against the customer own typical amount', () => {
    const probes = [0, 0.1, 0.2].map((h) =>
      tx({
        amount: 1,
        timestamp: at(h),
        channel: 'online',
        merchant_location: undefined,
      }),
    );
    const p = fold([...history(), ...probes]);
    expect(
      f(
        p,
        tx({
          amount: 900,
          timestamp: at(0.5),
          channel: 'online',
          merchant_location: undefined,
        }),
      ).small_count_24h,
    ).toBe(3);
  });

  it('gives neutral values and no_profile without history', () => {
    const v = f(undefined, tx());
    expect(v).toMatchObject({
      no_profile: 1,
      amount_ratio_user: 1,
      amount_rank_recent: 0.5,
      velocity_24h: 1,
      category_new: 0,
      history_log: 0,
    });
  });

  it('keeps profiles of each version apart', () => {
    const v2 = fold(history());
    const v1 = history().reduce<UserProfile | undefined>(
      (p, t) => FEATURES_V1.fold(p, t),
      undefined,
    ) as UserProfile;
    expect(v2.v).toBe(2);
    expect(v1.v).toBe(1);
    expect(v1.radius).toBeUndefined();
    expect(FEATURES_V2.isProfile(JSON.parse(JSON.stringify(v2)))).toBe(true);
    expect(FEATURES_V2.isProfile(JSON.parse(JSON.stringify(v1)))).toBe(false);
    expect(FEATURES_V1.isProfile(JSON.parse(JSON.stringify(v2)))).toBe(false);
    expect(isUserProfile(JSON.parse(JSON.stringify(v1)))).toBe(true);
    expect(
      FEATURES_V2.isProfile({
        ...JSON.parse(JSON.stringify(v2)),
        radius: { n: 'x' },
      }),
    ).toBe(false);
    // A version-2 profile holds everything version 1 reads: the same v1 features from either.
    const t = tx({ amount: 300, timestamp: at(2) });
    expect(
      Array.from(computeNormalized(v2, normalizeTransaction(t)).vector),
    ).toEqual(Array.from(FEATURES_V1.compute(v1, t).vector));
  });

  it('defines the features it shares by name with version 1 exactly as version 1 does (the reasons read them from the version-2 vector)', () => {
    const p = fold(history());
    const shared = FEATURE_NAMES_2.filter((n) => (FEATURES_V1.names as readonly string[]).includes(n));
    expect(shared.length).toBeGreaterThanOrEqual(15);
    const probes = [
      tx({ amount: 900, merchant_category: 'shopping', channel: 'online', merchant_location: undefined, timestamp: at(2) }),
      tx({ amount: 12, timestamp: at(0.1), currency: 'USD' }),
      tx({ amount: 300, merchant_category: 'travel', timestamp: at(30), merchant_location: { lat: 48.1351, lon: 11.582 } }),
      tx({ amount: 200, channel: 'atm', merchant_category: 'misc', timestamp: at(5) }),
    ];
    for (const t of probes) {
      const v2 = FEATURES_V2.compute(p, t).vector;
      const v1 = computeNormalized(p, normalizeTransaction(t)).vector;
      for (const name of shared) {
        expect([name, v2[FEATURE_NAMES_2.indexOf(name)]]).toEqual([name, v1[FEATURES_V1.names.indexOf(name)]]);
      }
    }
  });

  it('words reasons from version-2 contributions in the version-1 sentences', () => {
    const p = fold(history());
    const t = tx({
      amount: 900,
      merchant_category: 'shopping',
      channel: 'online',
      merchant_location: undefined,
      timestamp: at(2),
    });
    const features = FEATURES_V2.compute(p, t);
    const contributions = new Float64Array(FEATURES_V2.count);
    contributions[FEATURE_NAMES_2.indexOf('amount_ratio_category')] = 1.2;
    contributions[FEATURE_NAMES_2.indexOf('category_new')] = 0.6;
    contributions[FEATURE_NAMES_2.indexOf('hour_rarity')] = -0.3;
    const reasons = FEATURES_V2.rankReasons(contributions, features, t, p);
    expect(reasons.map((r) => r.group)).toEqual(['amount', 'category']);
    expect(reasons[0].sentence).toMatch(
      /amount 900 EUR is .*x this customer's typical transaction/,
    );
    expect(reasons[1].sentence).toBe(
      'first ever shopping transaction for this customer',
    );
    expect(() =>
      FEATURES_V2.rankReasons(new Float64Array(3), features, t, p),
    ).toThrow(/expected 25 values/);
  });
});
