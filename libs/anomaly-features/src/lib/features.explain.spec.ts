import {
  FEATURE_COUNT,
  computeFeatures,
  featureIndex,
  type FeatureName,
} from './features.compute';
import { isFeatureInputError } from './features.errors';
import { explain, rankReasons } from './features.explain';
import type { TransactionInput } from './features.types';
import { foldTransaction, type UserProfile } from './user-profile';

const T0 = Date.parse('2026-03-02T12:00:00Z');
const HOME = { lat: 52.52, lon: 13.4 };
let seq = 0;
function tx(over: Partial<TransactionInput> = {}): TransactionInput {
  seq += 1;
  return {
    transaction_id: `e-${seq}`,
    user_id: 'u-1',
    amount: 50,
    currency: 'EUR',
    timestamp: new Date(T0).toISOString(),
    merchant_category: 'grocery',
    channel: 'in_store',
    merchant_location: { lat: 52.521, lon: 13.41 },
    home_location: HOME,
    ...over,
  };
}
const at = (minutes: number): string =>
  new Date(T0 + minutes * 60_000).toISOString();

/** 30 days of groceries around 50 EUR and dinners, all in person in Berlin. */
function history(): UserProfile {
  let p: UserProfile | undefined;
  for (let d = 30; d >= 1; d--) {
    p = foldTransaction(
      p,
      tx({ timestamp: at(-d * 1440 + 300), amount: 45 + (d % 5) * 3 }),
    );
    if (d % 2 === 0)
      p = foldTransaction(
        p,
        tx({
          timestamp: at(-d * 1440 + 420),
          amount: 26,
          merchant_category: 'restaurants',
        }),
      );
  }
  return p as UserProfile;
}

function contributions(
  values: Partial<Record<FeatureName, number>>,
): Float64Array {
  const c = new Float64Array(FEATURE_COUNT);
  for (const [name, v] of Object.entries(values))
    c[featureIndex(name as FeatureName)] = v as number;
  return c;
}

function reasons(
  p: UserProfile | undefined,
  t: TransactionInput,
  c: Partial<Record<FeatureName, number>>,
  degraded = false,
): string[] {
  return explain(contributions(c), computeFeatures(p, t), t, p, { degraded });
}

describe('explain', () => {
  it("compares a big amount with the customer's usual spend in the category", () => {
    const t = tx({ amount: 700, timestamp: at(0) });
    expect(
      reasons(history(), t, {
        amount_ratio_category: 2.1,
        log_amount_usd: 0.4,
      }),
    ).toEqual([
      "amount 700 EUR is 14x this customer's usual grocery spend (about 50.82 EUR)",
    ]);
  });

  it('describes impossible travel with the distances from home', () => {
    const p = foldTransaction(
      history(),
      tx({ timestamp: at(0), merchant_location: { lat: 52.54, lon: 13.45 } }),
    );
    const t = tx({
      timestamp: at(40),
      merchant_location: { lat: 38.72, lon: -9.14 },
      amount: 60,
    });
    const [first] = reasons(p, t, {
      travel_speed_kmh: 1.5,
      distance_home_km: 0.7,
    });
    expect(first).toMatch(
      /^2,3\d\d km from home, 40 min after an in-person purchase 4 km from home \(implied travel speed 3,4\d\d km\/h\)$/,
    );
  });

  it('names first-time channels and categories', () => {
    const p = history();
    const t = tx({
      timestamp: at(0),
      channel: 'atm',
      amount: 400,
      merchant_category: 'misc',
    });
    expect(
      reasons(p, t, { channel_new: 1.2, category_new: 0.6, round_amount: 0.3 }),
    ).toEqual([
      'first ever ATM withdrawal for this customer',
      'first ever miscellaneous transaction for this customer',
      'round amount 400 EUR, typical of a cash-out',
    ]);
  });

  it('says when only population features were available', () => {
    const t = tx({
      amount: 2000,
      channel: 'online',
      merchant_category: 'shopping',
      merchant_location: undefined,
    });
    expect(
      reasons(undefined, t, { no_profile: 0.8, log_amount_usd: 0.5 }),
    ).toEqual([
      'new customer: scored on population features only',
      'amount 2,000 EUR is unusually high for shopping online purchases across all customers',
    ]);
    expect(reasons(undefined, t, { no_profile: 0.8 }, true)).toEqual([
      'customer history unavailable: scored on population features only',
    ]);
  });

  it('ranks by summed contribution, keeps only what pushes the score up, and caps the list', () => {
    const p = history();
    const t = tx({
      timestamp: at(-21 * 60),
      amount: 1.5,
      channel: 'online',
      currency: 'USD',
      merchant_location: undefined,
    });
    const c = contributions({
      tiny_amount: 0.9,
      tiny_count_24h: 0.4,
      local_hour: 0.3,
      hour_rarity: 0.5,
      foreign_currency: 0.45,
      amount_z_user: 0.6,
      log_amount_usd: -1.4,
      count_1h: 0.02,
      category_code: 0.01,
    });
    const ranked = rankReasons(c, computeFeatures(p, t), t, p);
    expect(ranked.map((r) => r.group)).toEqual([
      'card_testing',
      'time',
      'currency',
    ]);
    expect(ranked.map((r) => r.contribution)).toEqual([
      expect.closeTo(1.3, 9),
      expect.closeTo(0.8, 9),
      expect.closeTo(0.45, 9),
    ]);
    expect(ranked[0].sentence).toBe(
      'tiny amount 1.50 USD, typical of card testing',
    );
    expect(ranked[1].sentence).toMatch(
      /^made at 15:\d\d local time; under 1% of this customer's transactions happen within an hour of this time$/,
    );
    expect(ranked[2].sentence).toBe(
      'paid in USD while this customer usually pays in EUR',
    );
    const capped = explain(c, computeFeatures(p, t), t, p, {
      maxReasons: 1,
      minContribution: 0.5,
    });
    expect(capped).toEqual([ranked[0].sentence]);
    expect(
      explain(
        new Float64Array(FEATURE_COUNT).fill(-0.1),
        computeFeatures(p, t),
        t,
        p,
      ),
    ).toEqual([]);
  });

  it('explains velocity bursts and spend', () => {
    let p = history();
    for (let i = 0; i < 4; i++)
      p = foldTransaction(
        p,
        tx({
          timestamp: at(i * 5),
          amount: 120,
          channel: 'online',
          merchant_location: undefined,
        }),
      );
    const t = tx({
      timestamp: at(22),
      amount: 150,
      channel: 'online',
      merchant_location: undefined,
    });
    expect(reasons(p, t, { count_1h: 0.9 })).toEqual([
      '4 earlier transactions in the last hour and 5 in the last 24 h; this customer usually makes about 2 a day',
    ]);
    expect(reasons(p, t, { log_minutes_since_last: 0.9 })).toEqual([
      'only 7 min after the previous transaction',
    ]);
    expect(reasons(p, t, { spend_24h_ratio: 0.9 })[0]).toMatch(
      /^678 EUR spent in the last 24 h including this one, \d+(\.\d)?x a typical day for this customer$/,
    );
  });

  it('explains card testing before a larger purchase, rare categories and young histories', () => {
    let p = foldTransaction(undefined, tx({ timestamp: at(-600) }));
    for (let i = 0; i < 3; i++)
      p = foldTransaction(
        p,
        tx({
          timestamp: at(i),
          amount: 1,
          channel: 'online',
          merchant_location: undefined,
        }),
      );
    const t = tx({
      timestamp: at(30),
      amount: 800,
      channel: 'online',
      merchant_category: 'shopping',
      merchant_location: undefined,
    });
    expect(reasons(p, t, { tiny_count_24h: 1, history_size: 0.5 })).toEqual([
      '3 tiny transactions in the last 24 h before this 800 EUR one, typical of card testing before a larger purchase',
      'little history for this customer: 4 earlier transactions over 10 h',
    ]);
    const h = foldTransaction(
      history(),
      tx({ timestamp: at(-100), merchant_category: 'travel', amount: 90 }),
    );
    expect(
      reasons(
        h,
        tx({ timestamp: at(0), merchant_category: 'travel', amount: 95 }),
        { category_share: 0.4 },
      ),
    ).toEqual(['travel transactions are rare for this customer (2% of 46)']);
  });

  it('describes distance from known places when there is no speed to report', () => {
    const p = history();
    const t = tx({
      timestamp: at(60 * 24 * 3),
      merchant_location: { lat: 48.14, lon: 11.58 },
      home_location: undefined,
    });
    expect(reasons(p, t, { distance_places_km: 0.7 })).toEqual([
      '504 km from any place this customer has used the card in person',
    ]);
    expect(reasons(p, t, { distance_home_km: 0.7 })).toEqual([
      '504 km from home, 504 km from any place this customer has used the card in person',
    ]);
  });

  it('refuses contributions of the wrong length', () => {
    const t = tx();
    let caught: unknown;
    try {
      explain([1, 2, 3], computeFeatures(undefined, t), t, undefined);
    } catch (e) {
      caught = e;
    }
    expect(isFeatureInputError(caught)).toBe(true);
  });
});
