import { computeFeatures, featureIndex } from './features.compute';
import { isFeatureInputError } from './features.errors';
import type { TransactionInput } from './features.types';
import {
  MAX_CURRENCIES,
  MAX_PLACES,
  RECENT_IDS,
  RECENT_MAX,
  WINDOW_HOURS,
  foldTransaction,
  isUserProfile,
  profileHome,
  usualCurrency,
  type UserProfile,
} from './user-profile';

const T0 = Date.parse('2026-03-02T12:00:00Z');
let seq = 0;
function tx(over: Partial<TransactionInput> = {}): TransactionInput {
  seq += 1;
  return {
    transaction_id: `t-${seq}`,
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
const foldAll = (txs: TransactionInput[], start?: UserProfile): UserProfile =>
  txs.reduce<UserProfile | undefined>(
    (p, t) => foldTransaction(p, t),
    start,
  ) as UserProfile;
const feature = (
  p: UserProfile | undefined,
  t: TransactionInput,
  name: Parameters<typeof featureIndex>[0],
): number => computeFeatures(p, t).vector[featureIndex(name)];

describe('foldTransaction', () => {
  it('starts a profile from the first transaction', () => {
    const p = foldTransaction(undefined, tx({ amount: 20, timestamp: at(0) }));
    expect(p.n).toBe(1);
    expect(p.first).toBe(T0);
    expect(p.last).toBe(T0);
    expect(p.amount.n).toBe(1);
    expect(p.amount.mean).toBeCloseTo(Math.log(20 * 1.08), 10);
    expect(p.byCategory.grocery?.n).toBe(1);
    expect(p.channels).toEqual({ in_store: 1 });
    expect(p.currencies).toEqual({ EUR: 1 });
    expect(p.hours.reduce((a, b) => a + b, 0)).toBe(1);
    expect(p.lastSeen).toEqual({ lat: 52.52, lon: 13.405, ts: T0 });
  });

  it('is idempotent per transaction id and never mutates its input', () => {
    const first = tx({ timestamp: at(0) });
    const p1 = foldTransaction(undefined, first);
    const snapshot = JSON.stringify(p1);
    const p2 = foldTransaction(p1, tx({ timestamp: at(5), amount: 900 }));
    expect(JSON.stringify(p1)).toBe(snapshot);
    const again = foldTransaction(p2, first);
    expect(again).toBe(p2);
    const retried = foldTransaction(p2, { ...first, amount: 9999 });
    expect(retried).toBe(p2);
    expect(p2.n).toBe(2);
  });

  it('keeps Welford statistics equal to a direct computation', () => {
    const amounts = [12, 40, 33.5, 80, 5, 61];
    const p = foldAll(
      amounts.map((a, i) =>
        tx({ amount: a, currency: 'USD', timestamp: at(i * 90) }),
      ),
    );
    const logs = amounts.map(Math.log);
    const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
    const m2 = logs.reduce((a, b) => a + (b - mean) ** 2, 0);
    expect(p.amount.mean).toBeCloseTo(mean, 12);
    expect(p.amount.m2).toBeCloseTo(m2, 10);
    expect(p.amount.max).toBe(80);
  });

  it('counts windows in event time, not wall-clock time', () => {
    jest.useFakeTimers().setSystemTime(new Date('2031-01-01T00:00:00Z'));
    try {
      const p = foldAll([
        tx({ timestamp: at(0) }),
        tx({ timestamp: at(30) }),
        tx({ timestamp: at(120) }),
        tx({ timestamp: at(60 * 48) }),
      ]);
      const probe = tx({ timestamp: at(130) });
      expect(feature(p, probe, 'count_1h')).toBe(1);
      expect(feature(p, probe, 'count_24h')).toBe(3);
      expect(feature(p, probe, 'count_7d')).toBe(3);
      expect(feature(p, tx({ timestamp: at(60 * 49) }), 'count_24h')).toBe(1);
      expect(feature(p, tx({ timestamp: at(60 * 49) }), 'count_7d')).toBe(4);
      expect(feature(p, tx({ timestamp: at(60 * 24 * 8.5) }), 'count_7d')).toBe(
        1,
      );
      expect(feature(p, tx({ timestamp: at(60 * 24 * 9.5) }), 'count_7d')).toBe(
        0,
      );
    } finally {
      jest.useRealTimers();
    }
  });

  it('puts a late transaction inside the window into its own hour', () => {
    const p = foldAll([tx({ timestamp: at(0) }), tx({ timestamp: at(600) })]);
    const late = foldTransaction(
      p,
      tx({ timestamp: at(300), merchant_location: { lat: 48.14, lon: 11.58 } }),
    );
    expect(late.n).toBe(3);
    expect(late.last).toBe(T0 + 600 * 60_000);
    expect(late.hourly.counts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(late.hourly.counts[WINDOW_HOURS - 1 - 5]).toBe(1);
    expect(late.recent.ts).toEqual([T0, T0 + 300 * 60_000, T0 + 600 * 60_000]);
    // The latest in-person location stays the newest by event time.
    expect(late.lastSeen?.ts).toBe(T0 + 600 * 60_000);
    expect(feature(late, tx({ timestamp: at(310) }), 'count_1h')).toBe(1);
  });

  it('folds a transaction older than the window into long-run stats only', () => {
    const p = foldAll([tx({ timestamp: at(0) })]);
    const old = foldTransaction(
      p,
      tx({
        timestamp: at(-60 * 24 * 10),
        merchant_category: 'travel',
        amount: 300,
      }),
    );
    expect(old.n).toBe(2);
    expect(old.first).toBe(T0 - 10 * 86_400_000);
    expect(old.byCategory.travel?.n).toBe(1);
    expect(old.hourly.counts.reduce((a, b) => a + b, 0)).toBe(1);
    expect(old.hourly.end).toBe(p.hourly.end);
    expect(feature(old, tx({ timestamp: at(10) }), 'count_7d')).toBe(1);
  });

  it('moves the hourly window forward and drops hours that leave it', () => {
    const p = foldAll([
      tx({ timestamp: at(0) }),
      tx({ timestamp: at(60) }),
      tx({ timestamp: at(60 * 24 * 8) }),
    ]);
    expect(p.hourly.counts).toHaveLength(WINDOW_HOURS);
    expect(p.hourly.counts.reduce((a, b) => a + b, 0)).toBe(1);
    const far = foldTransaction(p, tx({ timestamp: at(60 * 24 * 400) }));
    expect(far.hourly.counts.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('stays bounded however long the history', () => {
    const cities = [
      { lat: 52.52, lon: 13.4 },
      { lat: 48.86, lon: 2.35 },
      { lat: 40.42, lon: -3.7 },
      { lat: 41.9, lon: 12.5 },
      { lat: 51.51, lon: -0.13 },
      { lat: 35.68, lon: 139.69 },
      { lat: 40.71, lon: -74.01 },
    ];
    const currencies = ['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'SEK'];
    const txs = Array.from({ length: 600 }, (_, i) =>
      tx({
        timestamp: at(i * 37),
        merchant_location: cities[i % cities.length],
        currency: currencies[i % currencies.length],
      }),
    );
    const p = foldAll(txs);
    expect(p.n).toBe(600);
    expect(p.ids).toHaveLength(RECENT_IDS);
    expect(p.ids[RECENT_IDS - 1]).toBe(txs[599].transaction_id);
    expect(p.recent.ts).toHaveLength(RECENT_MAX);
    expect(p.places.length).toBeLessThanOrEqual(MAX_PLACES);
    expect(Object.keys(p.currencies).length).toBeLessThanOrEqual(
      MAX_CURRENCIES,
    );
    expect(JSON.stringify(p).length).toBeLessThan(6000);
  });

  it('learns home from repeated in-person use, and a given home wins', () => {
    const berlin = { lat: 52.52, lon: 13.4 };
    let p = foldAll(
      [1, 2].map((i) =>
        tx({ timestamp: at(i * 60), merchant_location: berlin }),
      ),
    );
    expect(profileHome(p)).toBeUndefined();
    p = foldTransaction(
      p,
      tx({ timestamp: at(200), merchant_location: { lat: 52.53, lon: 13.41 } }),
    );
    const learned = profileHome(p);
    expect(learned?.lat).toBeCloseTo(52.5233, 3);
    // Online purchases say nothing about where the card holder is.
    const online = foldTransaction(
      p,
      tx({
        timestamp: at(300),
        channel: 'online',
        merchant_location: { lat: 1, lon: 1 },
      }),
    );
    expect(online.places).toEqual(p.places);
    const given = foldTransaction(
      p,
      tx({ timestamp: at(400), home_location: { lat: 48.1, lon: 11.6 } }),
    );
    expect(profileHome(given)).toEqual({ lat: 48.1, lon: 11.6 });
  });

  it('makes room for a new place or currency by evicting the least used', () => {
    const spots = Array.from({ length: MAX_PLACES }, (_, i) => ({
      lat: 10 + i * 5,
      lon: 10,
    }));
    let p = foldAll(
      spots.flatMap((s, i) =>
        Array.from({ length: i + 1 }, (_, k) =>
          tx({ timestamp: at(i * 100 + k), merchant_location: s }),
        ),
      ),
    );
    p = foldTransaction(
      p,
      tx({ timestamp: at(1000), merchant_location: { lat: -30, lon: 100 } }),
    );
    expect(p.places).toHaveLength(MAX_PLACES);
    expect(p.places.find((pl) => pl.lat === -30)?.n).toBe(2);
    expect(p.places.find((pl) => pl.lat === 10)).toBeUndefined();

    let q = foldAll(
      ['EUR', 'EUR', 'EUR', 'USD', 'USD', 'GBP', 'JPY'].map((c, i) =>
        tx({ timestamp: at(i), currency: c }),
      ),
    );
    q = foldTransaction(q, tx({ timestamp: at(10), currency: 'CHF' }));
    expect(Object.keys(q.currencies).sort()).toEqual([
      'CHF',
      'EUR',
      'JPY',
      'USD',
    ]);
    expect(usualCurrency(q)).toBe('EUR');
  });

  it('rejects transactions it cannot read, naming the field', () => {
    const cases: Array<[Partial<TransactionInput>, string]> = [
      [{ amount: 0 }, 'amount'],
      [{ amount: Number.NaN }, 'amount'],
      [{ currency: 'EURO' }, 'currency'],
      [{ timestamp: 'yesterday' }, 'timestamp'],
      [{ timestamp: '2026-02-30T10:00:00+25:00' }, 'timestamp'],
      [{ merchant_category: 'weapons' as never }, 'merchant_category'],
      [{ channel: 'phone' as never }, 'channel'],
      [{ merchant_location: { lat: 91, lon: 0 } }, 'merchant_location.lat'],
      [{ home_location: { lat: 0, lon: 181 } }, 'home_location.lon'],
      [{ transaction_id: '' }, 'transaction_id'],
    ];
    for (const [over, field] of cases) {
      let caught: unknown;
      try {
        foldTransaction(undefined, tx(over));
      } catch (e) {
        caught = e;
      }
      expect(isFeatureInputError(caught)).toBe(true);
      expect(caught).toMatchObject({ code: 'INVALID_FEATURE_INPUT', field });
    }
  });
});

describe('isUserProfile', () => {
  it('accepts a folded profile after a JSON round trip', () => {
    const p = foldAll([
      tx({ timestamp: at(0), home_location: { lat: 1, lon: 2 } }),
      tx({ timestamp: at(5) }),
    ]);
    expect(isUserProfile(JSON.parse(JSON.stringify(p)))).toBe(true);
  });

  it('rejects other versions and corrupt values', () => {
    const p = JSON.parse(JSON.stringify(foldAll([tx({ timestamp: at(0) })])));
    expect(isUserProfile({ ...p, v: 2 })).toBe(false);
    expect(isUserProfile({ ...p, hours: [1, 2, 3] })).toBe(false);
    expect(isUserProfile({ ...p, hourly: { end: 1, counts: [] } })).toBe(false);
    expect(isUserProfile({ ...p, recent: { ts: [1], usd: [] } })).toBe(false);
    expect(isUserProfile({ ...p, amount: { n: 1 } })).toBe(false);
    expect(isUserProfile({ ...p, lastSeen: { lat: 'x' } })).toBe(false);
    expect(isUserProfile(null)).toBe(false);
    expect(isUserProfile('profile')).toBe(false);
  });
});
