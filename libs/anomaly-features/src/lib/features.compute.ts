import type { GeoPoint, TransactionInput } from './features.types';
import { haversineKm } from './geo';
import {
  localHour,
  normalizeTransaction,
  type NormalizedTx,
} from './transaction.normalize';
import {
  RECENT_MAX,
  WINDOW_HOURS,
  profileHome,
  statsStd,
  usualCurrency,
  type UserProfile,
} from './user-profile';

/**
 * Bump whenever a feature's meaning, order, neutral value or the FX table changes: a model is
 * only valid with the FEATURE_VERSION it was trained on.
 */
export const FEATURE_VERSION = 'anomaly-features/1';

/** Feature order of the model input `features` [N, F]. */
export const FEATURE_NAMES = Object.freeze([
  'log_amount_usd',
  'amount_z_user',
  'amount_z_category',
  'amount_ratio_user',
  'amount_ratio_category',
  'amount_ratio_max',
  'category_code',
  'category_new',
  'category_share',
  'channel_new',
  'channel_online',
  'channel_atm',
  'local_hour',
  'night',
  'hour_rarity',
  'count_1h',
  'count_24h',
  'count_7d',
  'velocity_24h',
  'log_minutes_since_last',
  'spend_24h_ratio',
  'tiny_amount',
  'tiny_count_24h',
  'round_amount',
  'foreign_currency',
  'distance_home_km',
  'distance_places_km',
  'travel_speed_kmh',
  'history_size',
  'account_age_days',
  'no_profile',
] as const);

export type FeatureName = (typeof FEATURE_NAMES)[number];

export const FEATURE_COUNT: number = FEATURE_NAMES.length;

/** One transaction's model input, in FEATURE_NAMES order. */
export interface FeatureVector {
  readonly vector: Float32Array;
  /** The feature set's names, in vector order. */
  readonly names: readonly string[];
  /** The transaction as the features saw it (reasons and folds reuse it instead of parsing again). */
  readonly tx?: NormalizedTx;
}

const INDEX: Readonly<Record<FeatureName, number>> = Object.freeze(
  Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, i])) as Record<
    FeatureName,
    number
  >,
);

export function featureIndex(name: FeatureName): number {
  return INDEX[name];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Below this (USD) an amount looks like a card-testing probe. */
export const TINY_USD = 2;
// Spread floor of ln(amount) so a customer with identical amounts does not explode z-scores.
export const MIN_LOG_STD = 0.25;
const MAX_MINUTES = 30 * 24 * 60;
export const MAX_RATIO = 1000;
const MAX_SPEED_KMH = 20_000;
// Moves under this are location noise, not travel.
const MIN_MOVE_KM = 1;
// Smallest time step for implied speed: clocks and batch posting are not exact.
const MIN_SPEED_HOURS = 5 / 60;

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** A whole multiple of 10 with at most two significant digits: 20, 250, 1500 (cash-like). */
export function isRoundAmount(amount: number): boolean {
  if (amount < 10 || !Number.isInteger(amount) || amount % 10 !== 0)
    return false;
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(amount)) - 1);
  return amount % unit === 0;
}

// Sum of the hourly buckets for the `span` hours ending with the hour of t.
function bucketCount(profile: UserProfile, t: number, span: number): number {
  const h = Math.floor(t / HOUR_MS);
  const first = profile.hourly.end - WINDOW_HOURS + 1;
  let c = 0;
  for (
    let hh = Math.max(first, h - span + 1);
    hh <= Math.min(h, profile.hourly.end);
    hh++
  ) {
    c += profile.hourly.counts[hh - first];
  }
  return c;
}

/** Transactions of the history inside (t - ms, t]: count, USD sum, tiny ones. */
export function windowStats(
  profile: UserProfile,
  t: number,
  ms: number,
): { count: number; sum: number; tiny: number } {
  const { ts, usd } = profile.recent;
  let count = 0;
  let sum = 0;
  let tiny = 0;
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] > t - ms && ts[i] <= t) {
      count++;
      sum += usd[i];
      if (usd[i] < TINY_USD) tiny++;
    }
  }
  // The exact list holds the latest RECENT_MAX only; when it is full and does not reach back
  // to the window start, the hourly buckets give a floor for the count.
  if (ts.length >= RECENT_MAX && ts[0] > t - ms) {
    count = Math.max(
      count,
      bucketCount(profile, t, Math.max(1, Math.round(ms / HOUR_MS))),
    );
  }
  return { count, sum, tiny };
}

function count7d(profile: UserProfile, t: number): number {
  return Math.max(
    bucketCount(profile, t, WINDOW_HOURS),
    windowStats(profile, t, WINDOW_HOURS * HOUR_MS).count,
  );
}

/** Event time of the customer's latest transaction at or before `t`; -Infinity when none is known. */
export function previousTime(profile: UserProfile, t: number): number {
  let prev = -Infinity;
  for (const ts of profile.recent.ts) if (ts <= t && ts > prev) prev = ts;
  if (prev === -Infinity && profile.last <= t) prev = profile.last;
  return prev;
}

/**
 * An in-person purchase at `at` against where the card was seen: km to the nearest known place
 * (0 when none) and the implied speed from the latest in-person purchase, km/h (0 when none, or
 * for moves under MIN_MOVE_KM).
 */
export function placeFeatures(
  profile: UserProfile,
  at: GeoPoint,
  t: number,
): { nearestKm: number; speedKmh: number } {
  let nearest = Infinity;
  for (const pl of profile.places)
    nearest = Math.min(nearest, haversineKm(pl, at));
  let speedKmh = 0;
  if (profile.lastSeen) {
    const km = haversineKm(profile.lastSeen, at);
    const hours = Math.max(
      Math.abs(t - profile.lastSeen.ts) / HOUR_MS,
      MIN_SPEED_HOURS,
    );
    speedKmh = km < MIN_MOVE_KM ? 0 : Math.min(MAX_SPEED_KMH, km / hours);
  }
  return { nearestKm: Number.isFinite(nearest) ? nearest : 0, speedKmh };
}

function minutesSinceLast(profile: UserProfile, t: number): number {
  const prev = previousTime(profile, t);
  if (prev === -Infinity) return MAX_MINUTES;
  return Math.min(MAX_MINUTES, (t - prev) / 60_000);
}

/** Usual transactions per day over the customer's known span (at least one day). */
export function dailyRate(profile: UserProfile): number {
  return profile.n / Math.max(1, (profile.last - profile.first) / DAY_MS);
}

/**
 * Smoothed surprise of this local hour for the customer: 0 means as likely as a uniform hour,
 * positive means rarer. Neighbouring hours count half so 21:55 and 22:05 look alike.
 */
export function hourRarity(profile: UserProfile, hour: number): number {
  const h = Math.floor(hour) % 24;
  const around =
    profile.hours[h] +
    0.5 * (profile.hours[(h + 23) % 24] + profile.hours[(h + 1) % 24]);
  const p = (around + 0.5) / (2 * profile.n + 12);
  return -Math.log(24 * p);
}

export function computeNormalized(
  profile: UserProfile | undefined,
  tx: NormalizedTx,
): FeatureVector {
  const v = new Float32Array(FEATURE_COUNT);
  const hist = profile && profile.n > 0 ? profile : undefined;
  const t = tx.ts;
  const logUsd = Math.log(tx.usd);
  const home = tx.home ?? profileHome(hist);
  const hour = localHour(tx, home);

  v[INDEX.log_amount_usd] = Math.log1p(tx.usd);
  v[INDEX.category_code] = tx.categoryIndex;
  v[INDEX.channel_online] = tx.channel === 'online' ? 1 : 0;
  v[INDEX.channel_atm] = tx.channel === 'atm' ? 1 : 0;
  v[INDEX.local_hour] = hour;
  v[INDEX.night] = hour < 5 ? 1 : 0;
  v[INDEX.tiny_amount] = tx.usd < TINY_USD ? 1 : 0;
  v[INDEX.round_amount] = isRoundAmount(tx.amount) ? 1 : 0;
  v[INDEX.distance_home_km] =
    tx.presentAt && home ? haversineKm(home, tx.presentAt) : 0;

  if (!hist) {
    // Neutral values: what an unremarkable transaction of a known customer would show.
    v[INDEX.amount_ratio_user] = 1;
    v[INDEX.amount_ratio_category] = 1;
    v[INDEX.amount_ratio_max] = 1;
    v[INDEX.velocity_24h] = 1;
    v[INDEX.log_minutes_since_last] = Math.log1p(MAX_MINUTES);
    v[INDEX.spend_24h_ratio] = 1;
    v[INDEX.no_profile] = 1;
    return { vector: v, names: FEATURE_NAMES, tx };
  }

  const user = hist.amount;
  const userStd = Math.max(statsStd(user), MIN_LOG_STD);
  const userZ =
    user.n >= 3 ? clamp((logUsd - user.mean) / userStd, -20, 20) : 0;
  const userRatio = clamp(tx.usd / Math.exp(user.mean), 0, MAX_RATIO);
  const cat = hist.byCategory[tx.category];
  const catN = cat?.n ?? 0;
  v[INDEX.amount_z_user] = userZ;
  v[INDEX.amount_ratio_user] = userRatio;
  v[INDEX.amount_z_category] =
    cat && catN >= 3
      ? clamp(
          (logUsd - cat.mean) / Math.max(statsStd(cat), MIN_LOG_STD),
          -20,
          20,
        )
      : userZ;
  v[INDEX.amount_ratio_category] =
    cat && catN > 0
      ? clamp(tx.usd / Math.exp(cat.mean), 0, MAX_RATIO)
      : userRatio;
  v[INDEX.amount_ratio_max] = clamp(tx.usd / user.max, 0, MAX_RATIO);

  v[INDEX.category_new] = catN === 0 ? 1 : 0;
  v[INDEX.category_share] = catN / hist.n;
  v[INDEX.channel_new] = (hist.channels[tx.channel] ?? 0) === 0 ? 1 : 0;
  v[INDEX.hour_rarity] = hourRarity(hist, hour);

  const day = windowStats(hist, t, DAY_MS);
  const rate = dailyRate(hist);
  v[INDEX.count_1h] = windowStats(hist, t, HOUR_MS).count;
  v[INDEX.count_24h] = day.count;
  v[INDEX.count_7d] = count7d(hist, t);
  v[INDEX.velocity_24h] = (day.count + 1) / (rate + 1);
  v[INDEX.log_minutes_since_last] = Math.log1p(minutesSinceLast(hist, t));
  v[INDEX.spend_24h_ratio] = clamp(
    (day.sum + tx.usd) / (Math.exp(user.mean) * Math.max(rate, 1)),
    0,
    MAX_RATIO,
  );
  v[INDEX.tiny_count_24h] = day.tiny;

  const usual = usualCurrency(hist);
  v[INDEX.foreign_currency] =
    usual !== undefined && usual !== tx.currency ? 1 : 0;

  if (tx.presentAt) {
    const where = placeFeatures(hist, tx.presentAt, t);
    v[INDEX.distance_places_km] = where.nearestKm;
    v[INDEX.travel_speed_kmh] = where.speedKmh;
  }

  v[INDEX.history_size] = hist.n;
  v[INDEX.account_age_days] = Math.max(0, (t - hist.first) / DAY_MS);
  return { vector: v, names: FEATURE_NAMES, tx };
}

/**
 * Model input for a transaction scored against the customer's history BEFORE it (fold it
 * afterwards). Without a profile (new customer, or the store is unavailable) every
 * customer-relative feature takes its neutral value and `no_profile` is 1.
 */
export function computeFeatures(
  profile: UserProfile | undefined,
  tx: TransactionInput,
): FeatureVector {
  return computeNormalized(profile, normalizeTransaction(tx));
}
