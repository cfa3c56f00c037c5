import type {
  Channel,
  GeoPoint,
  MerchantCategory,
  TransactionInput,
} from './features.types';
import { haversineKm } from './geo';
import {
  localHour,
  normalizeTransaction,
  type NormalizedTx,
} from './transaction.normalize';

/** Profile layout of feature version 1 (model 1.0.0). */
export const PROFILE_VERSION = 1;
/** Profile layout of feature version 2: version 1 plus the customer's usual in-person radius. */
export const PROFILE_VERSION_2 = 2;
export type ProfileVersion = typeof PROFILE_VERSION | typeof PROFILE_VERSION_2;

/** Welford running statistics of ln(amount in USD); `max` is in USD. */
export interface AmountStats {
  n: number;
  mean: number;
  m2: number;
  max: number;
}

/** A cluster of in-person transaction locations. */
export interface Place {
  lat: number;
  lon: number;
  n: number;
}

/**
 * Per-customer history as an online feature store keeps it: plain JSON, bounded in size
 * (a few KB whatever the customer's history length). All times are event times (epoch ms).
 */
export interface UserProfile {
  v: ProfileVersion;
  /** Transactions folded, ever. */
  n: number;
  /** Earliest and latest event time folded. */
  first: number;
  last: number;
  amount: AmountStats;
  byCategory: Partial<Record<MerchantCategory, AmountStats>>;
  channels: Partial<Record<Channel, number>>;
  /** Counts per currency, at most MAX_CURRENCIES entries. */
  currencies: Record<string, number>;
  /** 24 counts by local hour of day. */
  hours: number[];
  /**
   * Transactions per hour for the WINDOW_HOURS hours ending with hour `end` (hours since the
   * epoch; `end` is the hour of `last`): counts[WINDOW_HOURS - 1] is hour `end`.
   */
  hourly: { end: number; counts: number[] };
  /** Event times and USD amounts of the latest RECENT_MAX transactions by event time, ascending. */
  recent: { ts: number[]; usd: number[] };
  /** Latest RECENT_IDS transaction ids folded, oldest first (idempotency). */
  ids: string[];
  /** Home location as last given by the issuer in a transaction. */
  givenHome?: GeoPoint;
  /** Clusters of in-person locations, at most MAX_PLACES. */
  places: Place[];
  /** Latest in-person location by event time. */
  lastSeen?: { lat: number; lon: number; ts: number };
  /**
   * Version 2 only: Welford statistics of ln(1 + km from home) of in-person transactions made
   * while a home was known (`max` in km): how far from home this customer usually shops.
   */
  radius?: AmountStats;
}

export const WINDOW_HOURS = 168;
export const RECENT_MAX = 48;
export const RECENT_IDS = 64;
export const MAX_PLACES = 5;
export const MAX_CURRENCIES = 4;
/** In-person locations closer than this join the same place. */
export const PLACE_RADIUS_KM = 25;
/** A learned home needs at least this many in-person transactions at one place. */
export const MIN_HOME_VISITS = 3;

const HOUR_MS = 3_600_000;

export function emptyStats(): AmountStats {
  return { n: 0, mean: 0, m2: 0, max: 0 };
}

function addLogStats(s: AmountStats, km: number): void {
  const x = Math.log1p(km);
  s.n += 1;
  const d = x - s.mean;
  s.mean += d / s.n;
  s.m2 += d * (x - s.mean);
  if (km > s.max) s.max = km;
}

function addToStats(s: AmountStats, usd: number): void {
  const x = Math.log(usd);
  s.n += 1;
  const d = x - s.mean;
  s.mean += d / s.n;
  s.m2 += d * (x - s.mean);
  if (usd > s.max) s.max = usd;
}

/** Standard deviation of ln(amount); 0 below two observations. */
export function statsStd(s: AmountStats): number {
  return s.n > 1 ? Math.sqrt(Math.max(0, s.m2 / (s.n - 1))) : 0;
}

/** Home: the one the issuer gave, else the most visited in-person place (when visited enough). */
export function profileHome(
  profile: UserProfile | undefined,
): GeoPoint | undefined {
  if (!profile) return undefined;
  if (profile.givenHome) return profile.givenHome;
  let best: Place | undefined;
  for (const p of profile.places) if (!best || p.n > best.n) best = p;
  return best && best.n >= MIN_HOME_VISITS
    ? { lat: best.lat, lon: best.lon }
    : undefined;
}

/** The currency this customer pays in most often. */
export function usualCurrency(
  profile: UserProfile | undefined,
): string | undefined {
  if (!profile) return undefined;
  let best: string | undefined;
  let bestN = 0;
  for (const [cur, n] of Object.entries(profile.currencies)) {
    if (n > bestN) {
      best = cur;
      bestN = n;
    }
  }
  return best;
}

function cloneProfile(p: UserProfile): UserProfile {
  const byCategory: UserProfile['byCategory'] = {};
  for (const k in p.byCategory) {
    const s = p.byCategory[k as MerchantCategory] as AmountStats;
    byCategory[k as MerchantCategory] = {
      n: s.n,
      mean: s.mean,
      m2: s.m2,
      max: s.max,
    };
  }
  const currencies: Record<string, number> = {};
  for (const k in p.currencies) currencies[k] = p.currencies[k];
  const out: UserProfile = {
    v: p.v,
    n: p.n,
    first: p.first,
    last: p.last,
    amount: {
      n: p.amount.n,
      mean: p.amount.mean,
      m2: p.amount.m2,
      max: p.amount.max,
    },
    byCategory,
    channels: { ...p.channels },
    currencies,
    hours: p.hours.slice(),
    hourly: { end: p.hourly.end, counts: p.hourly.counts.slice() },
    recent: { ts: p.recent.ts.slice(), usd: p.recent.usd.slice() },
    ids: p.ids.slice(),
    places: p.places.map((pl) => ({ lat: pl.lat, lon: pl.lon, n: pl.n })),
  };
  if (p.givenHome)
    out.givenHome = { lat: p.givenHome.lat, lon: p.givenHome.lon };
  if (p.radius) out.radius = { ...p.radius };
  if (p.lastSeen)
    out.lastSeen = {
      lat: p.lastSeen.lat,
      lon: p.lastSeen.lon,
      ts: p.lastSeen.ts,
    };
  return out;
}

function newProfile(ts: number, version: ProfileVersion): UserProfile {
  const p: UserProfile = {
    v: version,
    n: 0,
    first: ts,
    last: ts,
    amount: emptyStats(),
    byCategory: {},
    channels: {},
    currencies: {},
    hours: new Array<number>(24).fill(0),
    hourly: {
      end: Math.floor(ts / HOUR_MS),
      counts: new Array<number>(WINDOW_HOURS).fill(0),
    },
    recent: { ts: [], usd: [] },
    ids: [],
    places: [],
  };
  if (version === PROFILE_VERSION_2) p.radius = emptyStats();
  return p;
}

function addRecent(p: UserProfile, ts: number, usd: number): void {
  const r = p.recent;
  // After any equal time, so replays keep arrival order.
  let i = r.ts.length;
  while (i > 0 && r.ts[i - 1] > ts) i--;
  r.ts.splice(i, 0, ts);
  r.usd.splice(i, 0, usd);
  if (r.ts.length > RECENT_MAX) {
    r.ts.splice(0, r.ts.length - RECENT_MAX);
    r.usd.splice(0, r.usd.length - RECENT_MAX);
  }
}

function addHourly(p: UserProfile, ts: number): void {
  const w = p.hourly;
  const newest = Math.floor(p.last / HOUR_MS);
  if (newest > w.end) {
    const shift = Math.min(WINDOW_HOURS, newest - w.end);
    w.counts.splice(0, shift);
    for (let i = 0; i < shift; i++) w.counts.push(0);
    w.end = newest;
  }
  const at = Math.floor(ts / HOUR_MS) - (w.end - WINDOW_HOURS + 1);
  if (at >= 0 && at < WINDOW_HOURS) w.counts[at] += 1;
}

function addPlace(p: UserProfile, at: GeoPoint): void {
  let nearest: Place | undefined;
  let nearestKm = Infinity;
  for (const pl of p.places) {
    const d = haversineKm(pl, at);
    if (d < nearestKm) {
      nearest = pl;
      nearestKm = d;
    }
  }
  if (nearest && nearestKm <= PLACE_RADIUS_KM) {
    nearest.n += 1;
    nearest.lat += (at.lat - nearest.lat) / nearest.n;
    nearest.lon += (at.lon - nearest.lon) / nearest.n;
    return;
  }
  if (p.places.length < MAX_PLACES) {
    p.places.push({ lat: at.lat, lon: at.lon, n: 1 });
    return;
  }
  // Space-saving: the least visited place makes room and the newcomer inherits its count,
  // so a customer who moves house ends up with the new home on top.
  let min = 0;
  for (let i = 1; i < p.places.length; i++)
    if (p.places[i].n < p.places[min].n) min = i;
  p.places[min] = { lat: at.lat, lon: at.lon, n: p.places[min].n + 1 };
}

function addCurrency(p: UserProfile, currency: string): void {
  if (currency in p.currencies) {
    p.currencies[currency] += 1;
    return;
  }
  const keys = Object.keys(p.currencies);
  if (keys.length < MAX_CURRENCIES) {
    p.currencies[currency] = 1;
    return;
  }
  // Space-saving again; rebuilt rather than `delete`d so the object keeps a fast shape.
  let min = keys[0];
  for (const k of keys) if (p.currencies[k] < p.currencies[min]) min = k;
  const next: Record<string, number> = {};
  for (const k of keys) if (k !== min) next[k] = p.currencies[k];
  next[currency] = p.currencies[min] + 1;
  p.currencies = next;
}

function fold(p: UserProfile, tx: NormalizedTx): UserProfile {
  const home = profileHome(p);
  const hour = Math.floor(localHour(tx, tx.home ?? home)) % 24;
  const isNewest = p.n === 0 || tx.ts >= p.last;

  p.n += 1;
  p.first = Math.min(p.first, tx.ts);
  addToStats(p.amount, tx.usd);
  const cat = p.byCategory[tx.category] ?? emptyStats();
  addToStats(cat, tx.usd);
  p.byCategory[tx.category] = cat;
  p.channels[tx.channel] = (p.channels[tx.channel] ?? 0) + 1;
  addCurrency(p, tx.currency);
  p.hours[hour] += 1;
  if (tx.home && (isNewest || !p.givenHome))
    p.givenHome = { lat: tx.home.lat, lon: tx.home.lon };

  // Windows are keyed by event time: the newest time seen moves them, an older transaction
  // lands in its own bucket when still inside them and otherwise only feeds long-run stats.
  p.last = Math.max(p.last, tx.ts);
  addHourly(p, tx.ts);
  addRecent(p, tx.ts, tx.usd);

  if (tx.presentAt) {
    // Distance from the home known before this transaction (as the features saw it).
    const from = tx.home ?? home;
    if (p.radius && from)
      addLogStats(p.radius, haversineKm(from, tx.presentAt));
    addPlace(p, tx.presentAt);
    if (!p.lastSeen || tx.ts >= p.lastSeen.ts) {
      p.lastSeen = { lat: tx.presentAt.lat, lon: tx.presentAt.lon, ts: tx.ts };
    }
  }

  p.ids.push(tx.id);
  if (p.ids.length > RECENT_IDS) p.ids.splice(0, p.ids.length - RECENT_IDS);
  return p;
}

// Newest first: retries arrive soon after the original. (A plain loop: Array#includes is slower here.)
function hasId(ids: readonly string[], id: string): boolean {
  for (let i = ids.length - 1; i >= 0; i--) if (ids[i] === id) return true;
  return false;
}

/** True when `transactionId` is among the latest RECENT_IDS folded into `profile`. */
export function hasFolded(
  profile: UserProfile | undefined,
  transactionId: string,
): boolean {
  return profile !== undefined && hasId(profile.ids, transactionId);
}

/**
 * Folds one transaction into a customer's profile and returns the new profile; the input is
 * never modified. Folding a transaction id already among the latest RECENT_IDS returns the
 * given profile unchanged, so retries and replays are harmless.
 */
export function foldTransaction(
  profile: UserProfile | undefined,
  tx: TransactionInput,
  version: ProfileVersion = PROFILE_VERSION,
): UserProfile {
  const n = normalizeTransaction(tx);
  if (profile && hasId(profile.ids, n.id)) return profile;
  return fold(profile ? cloneProfile(profile) : newProfile(n.ts, version), n);
}

/**
 * foldTransaction without the copy, for whoever owns the profile (a store writing it back):
 * `profile` itself is modified and returned (a new one is made when there is none). `tx` is the
 * normalized transaction (`computeFeatures(...).tx`). A transaction id already folded leaves the
 * profile as it was.
 */
export function foldInto(
  profile: UserProfile | undefined,
  tx: NormalizedTx,
  version: ProfileVersion = PROFILE_VERSION,
): UserProfile {
  if (profile && hasId(profile.ids, tx.id)) return profile;
  return fold(profile ?? newProfile(tx.ts, version), tx);
}

function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function isStats(x: unknown): x is AmountStats {
  const s = x as AmountStats;
  return !!s && isNum(s.n) && isNum(s.mean) && isNum(s.m2) && isNum(s.max);
}

function isNums(x: unknown, len?: number): x is number[] {
  return (
    Array.isArray(x) &&
    (len === undefined || x.length === len) &&
    x.every(isNum)
  );
}

/**
 * True when a value read from storage is a profile of `version` (default PROFILE_VERSION).
 * Anything else (another version, corrupt JSON) should be treated as no profile.
 */
export function isUserProfile(
  x: unknown,
  version: ProfileVersion = PROFILE_VERSION,
): x is UserProfile {
  const p = x as UserProfile;
  return (
    !!p &&
    typeof p === 'object' &&
    p.v === version &&
    (version === PROFILE_VERSION || isStats(p.radius)) &&
    isNum(p.n) &&
    isNum(p.first) &&
    isNum(p.last) &&
    isStats(p.amount) &&
    !!p.byCategory &&
    typeof p.byCategory === 'object' &&
    Object.values(p.byCategory).every(isStats) &&
    !!p.channels &&
    Object.values(p.channels).every(isNum) &&
    !!p.currencies &&
    Object.values(p.currencies).every(isNum) &&
    isNums(p.hours, 24) &&
    !!p.hourly &&
    isNum(p.hourly.end) &&
    isNums(p.hourly.counts, WINDOW_HOURS) &&
    !!p.recent &&
    isNums(p.recent.ts) &&
    isNums(p.recent.usd, p.recent.ts.length) &&
    Array.isArray(p.ids) &&
    p.ids.every((i) => typeof i === 'string') &&
    Array.isArray(p.places) &&
    p.places.every(
      (pl) => !!pl && isNum(pl.lat) && isNum(pl.lon) && isNum(pl.n),
    ) &&
    (p.givenHome === undefined ||
      (isNum(p.givenHome.lat) && isNum(p.givenHome.lon))) &&
    (p.lastSeen === undefined ||
      (isNum(p.lastSeen.lat) && isNum(p.lastSeen.lon) && isNum(p.lastSeen.ts)))
  );
}
