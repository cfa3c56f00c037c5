import { haversineKm } from './geo';
import { localHour, type NormalizedTx } from './transaction.normalize';
import {
  MAX_RATIO,
  MIN_LOG_STD,
  clamp,
  dailyRate,
  hourRarity,
  isRoundAmount,
  placeFeatures,
  previousTime,
  windowStats,
  type FeatureVector,
} from './features.compute';
import {
  profileHome,
  statsStd,
  usualCurrency,
  type UserProfile,
} from './user-profile';

/**
 * Feature version 2: only what holds for any card portfolio. Every value is relative to the
 * customer's own history (or a physical quantity: km, km/h); nothing absolute about amounts,
 * categories, channels or hours of the population the model was trained on is an input, so a
 * model cannot learn a currency scale, a category mix or a clock. Bump on any change of meaning,
 * order or neutral value.
 */
export const FEATURE_VERSION_2 = 'anomaly-features/2';

export const FEATURE_NAMES_2 = Object.freeze([
  // The amount's place in the customer's amounts: overall, in this category, among the latest.
  'amount_z_user',
  'amount_z_category',
  'amount_ratio_user',
  'amount_ratio_category',
  'amount_ratio_max',
  'amount_ratio_category_max',
  'amount_rank_recent',
  // Novelty of what and how.
  'category_new',
  'category_share',
  'channel_new',
  'channel_share',
  // The hour against the customer's own hours.
  'hour_rarity',
  // Recent activity against the customer's usual rate.
  'count_1h_rel',
  'velocity_24h',
  'velocity_7d',
  'spend_24h_ratio',
  'gap_rel',
  'small_count_24h',
  // Cash and currency habits.
  'round_amount',
  'foreign_currency',
  // Where, against where the customer usually is.
  'distance_home_z',
  'distance_places_km',
  'travel_speed_kmh',
  // How much history the values above rest on.
  'history_log',
  'no_profile',
] as const);

export type FeatureName2 = (typeof FEATURE_NAMES_2)[number];
export const FEATURE_COUNT_2: number = FEATURE_NAMES_2.length;

const I: Readonly<Record<FeatureName2, number>> = Object.freeze(
  Object.fromEntries(FEATURE_NAMES_2.map((n, i) => [n, i])) as Record<
    FeatureName2,
    number
  >,
);

export function featureIndex2(name: FeatureName2): number {
  return I[name];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** A transaction under this share of the customer's typical amount is a probe-sized one. */
const SMALL_SHARE = 0.1;
/** ln(usual gap / gap) is clamped to this: a gap of under 1/e^8 of the usual is as fast as it gets. */
const MAX_GAP_LOG = 8;
// Spread floor of ln(1 + km) from home.
const MIN_RADIUS_STD = 0.5;

/**
 * Model input of version 2 for a transaction scored against the customer's history BEFORE it.
 * Without a profile every customer-relative feature takes its neutral value ("as usual") and
 * `no_profile` is 1.
 */
export function computeNormalized2(
  profile: UserProfile | undefined,
  tx: NormalizedTx,
): FeatureVector {
  const v = new Float32Array(FEATURE_COUNT_2);
  const hist = profile && profile.n > 0 ? profile : undefined;
  v[I.round_amount] = isRoundAmount(tx.amount) ? 1 : 0;
  if (!hist) {
    v[I.amount_ratio_user] = 1;
    v[I.amount_ratio_category] = 1;
    v[I.amount_ratio_max] = 1;
    v[I.amount_ratio_category_max] = 1;
    v[I.amount_rank_recent] = 0.5;
    v[I.count_1h_rel] = 1;
    v[I.velocity_24h] = 1;
    v[I.velocity_7d] = 1;
    v[I.spend_24h_ratio] = 1;
    v[I.no_profile] = 1;
    return { vector: v, names: FEATURE_NAMES_2, tx };
  }
  const t = tx.ts;
  const logUsd = Math.log(tx.usd);
  const user = hist.amount;
  const typical = Math.exp(user.mean);
  const userZ =
    user.n >= 3
      ? clamp(
          (logUsd - user.mean) / Math.max(statsStd(user), MIN_LOG_STD),
          -20,
          20,
        )
      : 0;
  const userRatio = clamp(tx.usd / typical, 0, MAX_RATIO);
  const cat = hist.byCategory[tx.category];
  const catN = cat?.n ?? 0;
  v[I.amount_z_user] = userZ;
  v[I.amount_ratio_user] = userRatio;
  v[I.amount_z_category] =
    cat && catN >= 3
      ? clamp(
          (logUsd - cat.mean) / Math.max(statsStd(cat), MIN_LOG_STD),
          -20,
          20,
        )
      : userZ;
  v[I.amount_ratio_category] =
    cat && catN > 0
      ? clamp(tx.usd / Math.exp(cat.mean), 0, MAX_RATIO)
      : userRatio;
  v[I.amount_ratio_max] = clamp(tx.usd / user.max, 0, MAX_RATIO);
  v[I.amount_ratio_category_max] =
    cat && catN > 0
      ? clamp(tx.usd / cat.max, 0, MAX_RATIO)
      : v[I.amount_ratio_max];
  const recent = hist.recent.usd;
  if (recent.length > 0) {
    let below = 0;
    for (const u of recent) below += u < tx.usd ? 1 : u === tx.usd ? 0.5 : 0;
    v[I.amount_rank_recent] = below / recent.length;
  } else v[I.amount_rank_recent] = 0.5;

  v[I.category_new] = catN === 0 ? 1 : 0;
  v[I.category_share] = catN / hist.n;
  const seenChannel = hist.channels[tx.channel] ?? 0;
  v[I.channel_new] = seenChannel === 0 ? 1 : 0;
  v[I.channel_share] = seenChannel / hist.n;

  const home = tx.home ?? profileHome(hist);
  v[I.hour_rarity] = hourRarity(hist, localHour(tx, home));

  const rate = dailyRate(hist);
  const day = windowStats(hist, t, DAY_MS);
  const hour = windowStats(hist, t, HOUR_MS);
  const week = windowStats(hist, t, 7 * DAY_MS);
  v[I.count_1h_rel] = (hour.count + 1) / (rate / 24 + 1);
  v[I.velocity_24h] = (day.count + 1) / (rate + 1);
  v[I.velocity_7d] = (Math.max(week.count, 0) + 1) / (7 * rate + 1);
  v[I.spend_24h_ratio] = clamp(
    (day.sum + tx.usd) / (typical * Math.max(rate, 1)),
    0,
    MAX_RATIO,
  );
  const prev = previousTime(hist, t);
  // ln(usual gap / this gap): 0 = as usual, positive = sooner than usual.
  const usualGapMs = DAY_MS / Math.max(rate, 1e-3);
  v[I.gap_rel] =
    prev === -Infinity
      ? 0
      : clamp(
          Math.log(usualGapMs / Math.max(t - prev, 1000)),
          -MAX_GAP_LOG,
          MAX_GAP_LOG,
        );
  let small = 0;
  const { ts: rts, usd: rusd } = hist.recent;
  for (let i = 0; i < rts.length; i++)
    if (rts[i] > t - DAY_MS && rts[i] <= t && rusd[i] < SMALL_SHARE * typical)
      small++;
  v[I.small_count_24h] = small;

  const usual = usualCurrency(hist);
  v[I.foreign_currency] = usual !== undefined && usual !== tx.currency ? 1 : 0;

  if (tx.presentAt) {
    const radius = hist.radius;
    if (home && radius && radius.n >= 3) {
      const x = Math.log1p(haversineKm(home, tx.presentAt));
      v[I.distance_home_z] = clamp(
        (x - radius.mean) / Math.max(statsStd(radius), MIN_RADIUS_STD),
        -20,
        20,
      );
    }
    const where = placeFeatures(hist, tx.presentAt, t);
    v[I.distance_places_km] = where.nearestKm;
    v[I.travel_speed_kmh] = where.speedKmh;
  }
  v[I.history_log] = Math.log1p(hist.n);
  return { vector: v, names: FEATURE_NAMES_2, tx };
}
