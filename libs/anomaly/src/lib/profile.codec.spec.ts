import { CHANNELS, MERCHANT_CATEGORIES, PROFILE_VERSION, PROFILE_VERSION_2, foldTransaction, isUserProfile, type ProfileVersion, type UserProfile } from '@ml/anomaly-features';
import { LONDON, NEW_YORK, daysAgo, iso, seeded, tx } from '../testing/anomaly.testing';
import { MAGIC, decodeProfile, encodeProfile } from './profile.codec';

const CURRENCIES = ['GBP', 'USD', 'EUR', 'JPY', 'CHF', 'SEK'];

/** A customer's profile after `count` varied transactions (categories, channels, currencies, places, ids). */
function history(user: string, count: number, version: ProfileVersion, seed: number): UserProfile {
  const rnd = seeded(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  let p: UserProfile | undefined;
  for (let i = 0; i < count; i++) {
    const online = rnd() < 0.3;
    const where = rnd() < 0.8 ? LONDON : NEW_YORK;
    p = foldTransaction(
      p,
      tx({
        user_id: user,
        // ids of every length the contract allows, non-ASCII included
        transaction_id: i % 7 === 0 ? `tx-é-${i}-${'x'.repeat(i % 40)}` : `${user}-${i}`,
        amount: Math.round(rnd() * 500_000) / 100 + 0.01,
        currency: pick(CURRENCIES),
        timestamp: iso(daysAgo(90) + Math.floor(rnd() * 89 * 86_400_000)),
        merchant_category: pick(MERCHANT_CATEGORIES),
        channel: online ? 'online' : pick(CHANNELS),
        merchant_location: online ? undefined : { lat: where.lat + rnd() * 0.2, lon: where.lon + rnd() * 0.2 },
        home_location: rnd() < 0.5 ? LONDON : undefined,
      }),
      version,
    );
  }
  return p as UserProfile;
}

/** The keys of the profile's maps in their order (what features may iterate over). */
const mapKeys = (p: UserProfile) => [Object.keys(p.byCategory), Object.keys(p.channels), Object.keys(p.currencies)];

describe('profile codec', () => {
  const profiles: [string, UserProfile][] = [
    ['a new customer (v1)', history('new1', 1, PROFILE_VERSION, 1)],
    ['a new customer (v2)', history('new2', 1, PROFILE_VERSION_2, 2)],
    ['a long history, lists and maps at their bounds (v1)', history('long1', 300, PROFILE_VERSION, 3)],
    ['a long history, lists and maps at their bounds (v2)', history('long2', 300, PROFILE_VERSION_2, 4)],
    ...Array.from({ length: 20 }, (_, i) => [`random history ${i}`, history(`r${i}`, 1 + i * 7, i % 2 ? PROFILE_VERSION : PROFILE_VERSION_2, 100 + i)] as [string, UserProfile]),
  ];

  it.each(profiles)('reads back %s exactly: every number bit for bit, the keys of its maps in their order', (_name, p) => {
    const bytes = encodeProfile(p);
    expect(bytes[0]).toBe(MAGIC);
    const back = decodeProfile(bytes);
    // toEqual compares numbers with Object.is: bit for bit, -0 apart from 0
    expect(back).toEqual(p);
    expect(mapKeys(back as UserProfile)).toEqual(mapKeys(p));
    expect(back).toEqual(JSON.parse(JSON.stringify(p)));
    expect(isUserProfile(back, p.v)).toBe(true);
  });

  it('keeps what JSON would lose or change: -0 and the order of map keys', () => {
    const p = history('zero', 5, PROFILE_VERSION_2, 9);
    p.amount.mean = -0;
    p.currencies = { USD: 1, AAA: 2 };
    const back = decodeProfile(encodeProfile(p)) as UserProfile;
    expect(Object.is(back.amount.mean, -0)).toBe(true);
    expect(Object.keys(back.currencies)).toEqual(['USD', 'AAA']);
  });

  it('keeps every transaction id exactly, lone surrogates and non-ASCII included (a replay must still be recognised)', () => {
    const ids = ['tx-1', 'ü-ß-€-日本', '\ud800', 'a\udc00b', '\ud83d\ude00-emoji', 'x'.repeat(128), '\ud800'.repeat(128)];
    let p: UserProfile | undefined;
    for (const id of ids) p = foldTransaction(p, tx({ transaction_id: id, user_id: 'ids' }), PROFILE_VERSION_2);
    const back = decodeProfile(encodeProfile(p as UserProfile)) as UserProfile;
    expect(back.ids).toEqual((p as UserProfile).ids);
    expect(back.ids).toHaveLength(ids.length);
    // folding a replayed id changes nothing, as with the profile before it was stored
    for (const id of ids) expect(foldTransaction(back, tx({ transaction_id: id, user_id: 'ids' }), PROFILE_VERSION_2)).toBe(back);
  });

  it('the long histories really fill the lists it encodes', () => {
    const p = profiles[3][1];
    expect(p.ids.length).toBeGreaterThanOrEqual(60);
    expect(p.recent.ts.length).toBeGreaterThanOrEqual(40);
    expect(Object.keys(p.currencies).length).toBeGreaterThanOrEqual(3);
    expect(p.places.length).toBeGreaterThanOrEqual(2);
    expect(p.givenHome).toBeDefined();
    expect(p.lastSeen).toBeDefined();
  });

  it('answers undefined, never throws, for bytes that are not one whole profile', () => {
    const good = encodeProfile(profiles[2][1]);
    // every truncation
    for (let len = 0; len < good.length; len++) expect(decodeProfile(good.subarray(0, len))).toBeUndefined();
    // a byte too many
    expect(decodeProfile(Buffer.concat([good, Buffer.from([0])]))).toBeUndefined();
    // JSON, another magic, unknown flags
    expect(decodeProfile(Buffer.from(JSON.stringify(profiles[2][1])))).toBeUndefined();
    const otherMagic = Buffer.from(good);
    otherMagic[0] = 0xb2;
    expect(decodeProfile(otherMagic)).toBeUndefined();
    const badFlags = Buffer.from(good);
    badFlags[2] |= 0x80;
    expect(decodeProfile(badFlags)).toBeUndefined();
    // random bytes after the magic
    const rnd = seeded(5);
    for (let i = 0; i < 500; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 600) }, () => Math.floor(rnd() * 256)));
      junk[0] = MAGIC;
      const value = decodeProfile(junk);
      if (value !== undefined) expect(typeof value).toBe('object');
    }
  });

  it('reads a profile from a view into a larger buffer (as a client hands out slices)', () => {
    const p = profiles[5][1];
    const bytes = encodeProfile(p);
    const big = Buffer.concat([Buffer.from('padding'), bytes, Buffer.from('tail')]);
    expect(decodeProfile(big.subarray(7, 7 + bytes.length))).toEqual(JSON.parse(JSON.stringify(p)));
  });
});

describe('profile codec: lists of numbers', () => {
  const base = () => foldTransaction(undefined, tx({ transaction_id: 'w', user_id: 'w' }), PROFILE_VERSION_2);
  it.each([
    ['small counts', [0, 1, 255], 1],
    ['counts past 255', [0, 256, 65_535], 2],
    ['counts past 65535', [65_536, 4_294_967_295], 4],
    ['past 32 bits', [4_294_967_296], 8],
    ['fractions', [0.5, 1], 8],
    ['negative numbers', [-1, 2], 8],
    ['-0', [-0, 1], 8],
  ] as const)('keeps %s exactly, in %d byte(s) per item', (_name, values, width) => {
    const p = base();
    p.recent = { ts: [...values], usd: [...values] };
    const bytes = encodeProfile(p);
    const back = decodeProfile(bytes) as UserProfile;
    expect(back.recent.ts).toEqual(values);
    expect(back.recent.usd).toEqual(values);
    const empty = encodeProfile({ ...p, recent: { ts: [], usd: [] } });
    expect(bytes.length - empty.length).toBe(2 * values.length * width);
  });

  it('stores a new customer in fewer bytes than its JSON', () => {
    const p = base();
    expect(encodeProfile(p).length).toBeLessThan(Buffer.byteLength(JSON.stringify(p)));
  });
});
