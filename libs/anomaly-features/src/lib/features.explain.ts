import { FeatureInputError } from './features.errors';
import {
  FEATURE_COUNT,
  computeNormalized,
  dailyRate,
  featureIndex,
  windowStats,
  type FeatureName,
  type FeatureVector,
} from './features.compute';
import type {
  Channel,
  MerchantCategory,
  TransactionInput,
} from './features.types';
import {
  FEATURE_COUNT_2,
  featureIndex2,
  type FeatureName2,
} from './features.v2';
import { fromUsd } from './fx.rates';
import { haversineKm } from './geo';
import {
  localHour,
  normalizeTransaction,
  type NormalizedTx,
} from './transaction.normalize';
import { profileHome, usualCurrency, type UserProfile } from './user-profile';

/** Features that tell one story share one sentence; their contributions add up. */
export const REASON_GROUPS = Object.freeze({
  amount: [
    'log_amount_usd',
    'amount_z_user',
    'amount_z_category',
    'amount_ratio_user',
    'amount_ratio_category',
    'amount_ratio_max',
  ],
  category: ['category_new', 'category_share', 'category_code'],
  channel: ['channel_new', 'channel_online', 'channel_atm'],
  time: ['local_hour', 'night', 'hour_rarity'],
  velocity: [
    'count_1h',
    'count_24h',
    'count_7d',
    'velocity_24h',
    'log_minutes_since_last',
    'spend_24h_ratio',
  ],
  card_testing: ['tiny_amount', 'tiny_count_24h'],
  cash: ['round_amount'],
  currency: ['foreign_currency'],
  location: ['distance_home_km', 'distance_places_km', 'travel_speed_kmh'],
  history: ['history_size', 'account_age_days', 'no_profile'],
} satisfies Record<string, readonly FeatureName[]>);

export type ReasonGroup = keyof typeof REASON_GROUPS;

export interface Reason {
  readonly group: ReasonGroup;
  /** Sum of the group's per-feature contributions (logit units); always > 0. */
  readonly contribution: number;
  readonly sentence: string;
}

export interface ExplainOptions {
  /** At most this many sentences (default 5). */
  readonly maxReasons?: number;
  /** Groups contributing less than this (logit units) are left out (default 0.05). */
  readonly minContribution?: number;
  /** The profile was unavailable (store down) rather than absent (new customer). */
  readonly degraded?: boolean;
}

const CATEGORY_LABEL: Record<MerchantCategory, string> = {
  grocery: 'grocery',
  restaurants: 'restaurant',
  gas_transport: 'gas & transport',
  shopping: 'shopping',
  entertainment: 'entertainment',
  health_fitness: 'health & fitness',
  home: 'home',
  kids_pets: 'kids & pets',
  personal_care: 'personal care',
  travel: 'travel',
  misc: 'miscellaneous',
};

const CHANNEL_LABEL: Record<Channel, string> = {
  online: 'online purchase',
  in_store: 'in-store purchase',
  atm: 'ATM withdrawal',
};

const number0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const number2 = new Intl.NumberFormat('en-US', {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

function money(amount: number, currency: string): string {
  const whole = Math.abs(amount - Math.round(amount)) < 0.005 || amount >= 1000;
  return `${whole ? number0.format(amount) : number2.format(amount)} ${currency}`;
}

function ratio(r: number): string {
  return r >= 10 ? `${number0.format(r)}x` : `${r.toFixed(1)}x`;
}

function km(d: number): string {
  return d < 1 ? 'under 1 km' : `${number0.format(d)} km`;
}

function duration(ms: number): string {
  const min = Math.round(Math.abs(ms) / 60_000);
  if (min < 1) return 'under a minute';
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 && h < 10 ? `${h} h ${min % 60} min` : `${h} h`;
  return `${Math.round(h / 24)} days`;
}

function clock(hour: number): string {
  const h = Math.floor(hour) % 24;
  const m = Math.floor((hour - Math.floor(hour)) * 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

function percent(x: number): string {
  return x < 0.01 ? 'under 1%' : `${Math.round(x * 100)}%`;
}

interface Ctx {
  readonly tx: NormalizedTx;
  readonly f: (name: FeatureName) => number;
  readonly c: (name: FeatureName) => number;
  readonly hist: UserProfile | undefined;
  readonly degraded: boolean;
}

// The feature of a group that pushed the score up the most.
function top(ctx: Ctx, names: readonly FeatureName[]): FeatureName {
  let best = names[0];
  for (const n of names) if (ctx.c(n) > ctx.c(best)) best = n;
  return best;
}

function typicalMoney(ctx: Ctx, logMeanUsd: number): string {
  return money(fromUsd(Math.exp(logMeanUsd), ctx.tx.currency), ctx.tx.currency);
}

// Above this (USD) a card transaction is large for the population whatever the customer.
const POPULATION_HIGH_USD = 250;

function amountSentence(ctx: Ctx): string {
  const { tx, hist, f } = ctx;
  const amt = money(tx.amount, tx.currency);
  const label = CATEGORY_LABEL[tx.category];
  if (!hist) {
    return tx.usd >= POPULATION_HIGH_USD
      ? `amount ${amt} is unusually high for ${label} ${CHANNEL_LABEL[tx.channel]}s across all customers`
      : `amount ${amt} matches fraud patterns in ${label} ${CHANNEL_LABEL[tx.channel]}s across all customers`;
  }
  const cat = hist.byCategory[tx.category];
  if (cat && cat.n >= 3 && f('amount_ratio_category') >= 1.5) {
    return `amount ${amt} is ${ratio(f('amount_ratio_category'))} this customer's usual ${label} spend (about ${typicalMoney(ctx, cat.mean)})`;
  }
  if (hist.amount.n >= 3 && f('amount_ratio_user') >= 1.5) {
    return `amount ${amt} is ${ratio(f('amount_ratio_user'))} this customer's typical transaction (about ${typicalMoney(ctx, hist.amount.mean)})`;
  }
  if (f('amount_ratio_max') > 1) {
    return `amount ${amt} is the largest this customer has spent (previous maximum ${money(fromUsd(hist.amount.max, tx.currency), tx.currency)})`;
  }
  return `amount ${amt} is out of pattern for this customer (typical transaction about ${typicalMoney(ctx, hist.amount.mean)})`;
}

function categorySentence(ctx: Ctx): string {
  const label = CATEGORY_LABEL[ctx.tx.category];
  if (ctx.hist && ctx.f('category_new') === 1)
    return `first ever ${label} transaction for this customer`;
  if (ctx.hist && ctx.f('category_share') < 0.05) {
    return `${label} transactions are rare for this customer (${percent(ctx.f('category_share'))} of ${ctx.hist.n})`;
  }
  return `${label} ${CHANNEL_LABEL[ctx.tx.channel]}s are a frequent fraud target`;
}

function channelSentence(ctx: Ctx): string {
  const { tx, hist } = ctx;
  const label = CHANNEL_LABEL[tx.channel];
  if (hist && ctx.f('channel_new') === 1)
    return `first ever ${label} for this customer`;
  const seen = hist?.channels[tx.channel] ?? 0;
  if (hist && seen / hist.n < 0.1)
    return `${label}s are rare for this customer (${seen} of ${hist.n} transactions)`;
  if (tx.channel === 'online') return 'card-not-present (online) purchase';
  return tx.channel === 'atm'
    ? 'cash withdrawal at an ATM'
    : 'in-store purchase';
}

function timeSentence(ctx: Ctx): string {
  const { hist } = ctx;
  const hour = ctx.f('local_hour');
  const at = `made at ${clock(hour)} local time${ctx.f('night') === 1 ? ' (night)' : ''}`;
  if (!hist) return at;
  const h = Math.floor(hour) % 24;
  const near =
    hist.hours[h] + hist.hours[(h + 23) % 24] + hist.hours[(h + 1) % 24];
  return `${at}; ${percent(near / hist.n)} of this customer's transactions happen within an hour of this time`;
}

function velocitySentence(ctx: Ctx): string {
  const { tx, hist, f } = ctx;
  if (!hist) return 'unusual transaction rate';
  const lead = top(ctx, REASON_GROUPS.velocity);
  const minutes = Math.expm1(f('log_minutes_since_last'));
  if (lead === 'spend_24h_ratio') {
    const spent = windowStats(hist, tx.ts, 86_400_000).sum + tx.usd;
    return `${money(fromUsd(spent, tx.currency), tx.currency)} spent in the last 24 h including this one, ${ratio(f('spend_24h_ratio'))} a typical day for this customer`;
  }
  if (lead === 'log_minutes_since_last' && minutes < 60) {
    return `only ${duration(minutes * 60_000)} after the previous transaction`;
  }
  const rate = dailyRate(hist);
  const usual =
    rate >= 1
      ? `about ${rate.toFixed(0)} a day`
      : `about ${(rate * 7).toFixed(rate * 7 >= 1 ? 0 : 1)} a week`;
  return `${f('count_1h')} earlier transactions in the last hour and ${f('count_24h')} in the last 24 h; this customer usually makes ${usual}`;
}

function cardTestingSentence(ctx: Ctx): string {
  const amt = money(ctx.tx.amount, ctx.tx.currency);
  const others = ctx.f('tiny_count_24h');
  if (ctx.f('tiny_amount') === 1) {
    return `tiny amount ${amt}, typical of card testing${others > 0 ? `; ${others} other tiny transactions in the last 24 h` : ''}`;
  }
  return `${others} tiny transactions in the last 24 h before this ${amt} one, typical of card testing before a larger purchase`;
}

function locationSentence(ctx: Ctx): string {
  const { tx, hist } = ctx;
  const at = tx.presentAt;
  const home = tx.home ?? profileHome(hist);
  if (!at) return 'location is unusual for this customer';
  const fromHome = home ? `${km(haversineKm(home, at))} from home` : undefined;
  const lead = top(ctx, REASON_GROUPS.location);
  if (lead === 'travel_speed_kmh' && hist?.lastSeen) {
    const seen = hist.lastSeen;
    const gap = duration(tx.ts - seen.ts);
    const when = tx.ts >= seen.ts ? 'after' : 'before';
    const speed = `${number0.format(ctx.f('travel_speed_kmh'))} km/h`;
    if (home && fromHome) {
      return `${fromHome}, ${gap} ${when} an in-person purchase ${km(haversineKm(home, seen))} from home (implied travel speed ${speed})`;
    }
    return `${km(haversineKm(seen, at))} from the in-person purchase made ${gap} ${when === 'after' ? 'earlier' : 'later'} (implied travel speed ${speed})`;
  }
  const places =
    hist && hist.places.length > 0
      ? `${km(ctx.f('distance_places_km'))} from any place this customer has used the card in person`
      : undefined;
  if (lead === 'distance_places_km' && places) return places;
  if (fromHome)
    return places && ctx.f('distance_places_km') > 50
      ? `${fromHome}, ${places}`
      : fromHome;
  return places ?? 'location is unusual for this customer';
}

function historySentence(ctx: Ctx): string {
  if (!ctx.hist) {
    return ctx.degraded
      ? 'customer history unavailable: scored on population features only'
      : 'new customer: scored on population features only';
  }
  return `little history for this customer: ${ctx.hist.n} earlier transactions over ${duration(ctx.f('account_age_days') * 86_400_000)}`;
}

/** Each group with its features' indices, in REASON_GROUPS order (ties keep that order). */
const GROUP_INDICES: readonly (readonly [ReasonGroup, Int32Array])[] = (
  Object.keys(REASON_GROUPS) as ReasonGroup[]
).map((g) => [g, Int32Array.from(REASON_GROUPS[g], (n) => featureIndex(n))]);

const SENTENCES: Record<ReasonGroup, (ctx: Ctx) => string> = {
  amount: amountSentence,
  category: categorySentence,
  channel: channelSentence,
  time: timeSentence,
  velocity: velocitySentence,
  card_testing: cardTestingSentence,
  cash: (ctx) =>
    `round amount ${money(ctx.tx.amount, ctx.tx.currency)}${ctx.tx.channel === 'atm' ? ', typical of a cash-out' : ''}`,
  currency: (ctx) =>
    `paid in ${ctx.tx.currency} while this customer usually pays in ${usualCurrency(ctx.hist) ?? 'another currency'}`,
  location: locationSentence,
  history: historySentence,
};

function ranked(
  groups: readonly (readonly [ReasonGroup, Int32Array])[],
  contributions: ArrayLike<number>,
  ctx: Ctx,
  options: ExplainOptions,
): Reason[] {
  const min = options.minContribution ?? 0.05;
  const scored: { group: ReasonGroup; contribution: number; order: number }[] =
    [];
  groups.forEach(([group, indices], order) => {
    let contribution = 0;
    for (let i = 0; i < indices.length; i++)
      contribution += contributions[indices[i]];
    if (contribution >= min && contribution > 0)
      scored.push({ group, contribution, order });
  });
  scored.sort((a, b) => b.contribution - a.contribution || a.order - b.order);
  return scored
    .slice(0, options.maxReasons ?? 5)
    .map(({ group, contribution }) => ({
      group,
      contribution,
      sentence: SENTENCES[group](ctx),
    }));
}

function checkLengths(
  contributions: ArrayLike<number>,
  features: FeatureVector,
  count: number,
): void {
  if (contributions.length !== count) {
    throw new FeatureInputError(
      'contributions',
      `expected ${count} values, got ${contributions.length}`,
    );
  }
  if (features.vector.length !== count) {
    throw new FeatureInputError(
      'features',
      `expected ${count} values, got ${features.vector.length}`,
    );
  }
}

/**
 * Reasons behind a score, strongest first: per-feature contributions (e.g. TreeEnsemble
 * contributions, in FEATURE_NAMES order) are summed per reason group and only groups whose
 * sum pushes the score up are kept. `profile` must be the history the features were computed from.
 */
export function rankReasons(
  contributions: ArrayLike<number>,
  features: FeatureVector,
  tx: TransactionInput,
  profile: UserProfile | undefined,
  options: ExplainOptions = {},
): Reason[] {
  checkLengths(contributions, features, FEATURE_COUNT);
  const hist = profile && profile.n > 0 ? profile : undefined;
  const ctx: Ctx = {
    tx: features.tx ?? normalizeTransaction(tx),
    f: (name) => features.vector[featureIndex(name)],
    c: (name) => contributions[featureIndex(name)],
    hist,
    degraded: options.degraded ?? false,
  };
  return ranked(GROUP_INDICES, contributions, ctx, options);
}

/** Version 2's features by the reason they tell (the same groups and sentences as version 1). */
export const REASON_GROUPS_2 = Object.freeze({
  amount: [
    'amount_z_user',
    'amount_z_category',
    'amount_ratio_user',
    'amount_ratio_category',
    'amount_ratio_max',
    'amount_ratio_category_max',
    'amount_rank_recent',
  ],
  category: ['category_new', 'category_share'],
  channel: ['channel_new', 'channel_share'],
  time: ['hour_rarity'],
  velocity: [
    'count_1h_rel',
    'velocity_24h',
    'velocity_7d',
    'spend_24h_ratio',
    'gap_rel',
  ],
  card_testing: ['small_count_24h'],
  cash: ['round_amount'],
  currency: ['foreign_currency'],
  location: ['distance_home_z', 'distance_places_km', 'travel_speed_kmh'],
  history: ['history_log', 'no_profile'],
} satisfies Record<ReasonGroup, readonly FeatureName2[]>);

const GROUP_INDICES_2: readonly (readonly [ReasonGroup, Int32Array])[] = (
  Object.keys(REASON_GROUPS_2) as ReasonGroup[]
).map((g) => [
  g,
  Int32Array.from(REASON_GROUPS_2[g] as readonly FeatureName2[], (n) =>
    featureIndex2(n),
  ),
]);

/**
 * The version-2 feature that plays a version-1 feature's part in a sentence (which of a group's
 * features led): sentences quote version-1 values, which describe the transaction in plain units.
 */
const LEAD_2: Partial<Record<FeatureName, FeatureName2>> = {
  amount_z_user: 'amount_z_user',
  amount_z_category: 'amount_z_category',
  amount_ratio_user: 'amount_ratio_user',
  amount_ratio_category: 'amount_ratio_category',
  amount_ratio_max: 'amount_ratio_max',
  category_new: 'category_new',
  category_share: 'category_share',
  channel_new: 'channel_new',
  hour_rarity: 'hour_rarity',
  count_1h: 'count_1h_rel',
  count_24h: 'velocity_24h',
  count_7d: 'velocity_7d',
  spend_24h_ratio: 'spend_24h_ratio',
  log_minutes_since_last: 'gap_rel',
  tiny_count_24h: 'small_count_24h',
  round_amount: 'round_amount',
  foreign_currency: 'foreign_currency',
  distance_home_km: 'distance_home_z',
  distance_places_km: 'distance_places_km',
  travel_speed_kmh: 'travel_speed_kmh',
  history_size: 'history_log',
  no_profile: 'no_profile',
};

/** Version-1 features whose version-2 namesake has the same definition: name -> index in version 2. */
const SHARED_2: Partial<Record<FeatureName, number>> = Object.fromEntries(
  (
    [
      'amount_z_user',
      'amount_z_category',
      'amount_ratio_user',
      'amount_ratio_category',
      'amount_ratio_max',
      'category_new',
      'category_share',
      'channel_new',
      'hour_rarity',
      'spend_24h_ratio',
      'round_amount',
      'foreign_currency',
      'distance_places_km',
      'travel_speed_kmh',
      'no_profile',
    ] as const
  ).map((name) => [name, featureIndex2(name)]),
);

/**
 * rankReasons for a version-2 model: contributions in FEATURE_NAMES_2 order. The groups and
 * sentences are version 1's; the sentences quote the transaction in plain units (amounts, local
 * time, km), computed from the same history.
 */
export function rankReasons2(
  contributions: ArrayLike<number>,
  features: FeatureVector,
  tx: TransactionInput,
  profile: UserProfile | undefined,
  options: ExplainOptions = {},
): Reason[] {
  checkLengths(contributions, features, FEATURE_COUNT_2);
  const hist = profile && profile.n > 0 ? profile : undefined;
  const n = features.tx ?? normalizeTransaction(tx);
  let plain: Float32Array | undefined;
  let hour: number | undefined;
  const ctx: Ctx = {
    tx: n,
    // Values both versions define alike come from the version-2 vector and the local hour is
    // computed alone; only the rest (counts, tiny amounts, account age) need version 1's vector.
    f: (name) => {
      const same = SHARED_2[name];
      if (same !== undefined) return features.vector[same];
      if (name === 'local_hour' || name === 'night') {
        hour ??= localHour(n, n.home ?? profileHome(hist));
        return name === 'night' ? (hour < 5 ? 1 : 0) : hour;
      }
      return (plain ??= computeNormalized(profile, n).vector)[featureIndex(name)];
    },
    c: (name) => {
      const lead = LEAD_2[name];
      return lead === undefined ? 0 : contributions[featureIndex2(lead)];
    },
    hist,
    degraded: options.degraded ?? false,
  };
  return ranked(GROUP_INDICES_2, contributions, ctx, options);
}

/** Plain sentences a fraud analyst can act on, strongest first (see rankReasons). */
export function explain(
  contributions: ArrayLike<number>,
  features: FeatureVector,
  tx: TransactionInput,
  profile: UserProfile | undefined,
  options: ExplainOptions = {},
): string[] {
  return rankReasons(contributions, features, tx, profile, options).map(
    (r) => r.sentence,
  );
}
