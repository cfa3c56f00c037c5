import type { MerchantCategory } from '@ml/anomaly-features';

/** Fraud scenarios; a label's index is its position, so new ones are only ever appended. */
export const SCENARIOS = [
  'card_testing',
  'account_takeover',
  'night_online',
  'impossible_travel',
  'new_category',
  'atm_cashout',
  'compromised_card',
] as const;

export type Scenario = (typeof SCENARIOS)[number];

/** Hour-of-day mixture in local time: components [centre, spread, weight] (hours). */
export type HourMix = ReadonlyArray<readonly [number, number, number]>;

/** Multipliers of one category's built-in habit (every field defaults to the built-in value). */
export interface CategoryKnobs {
  /** Probability that a customer uses the category at all (replaces the built-in one). */
  readonly uses?: number;
  /** Multiplies the weekly rate. */
  readonly rate?: number;
  /** Multiplies the median amount (the category price ladder). */
  readonly median?: number;
  /** Multiplies the spread of ln(amount). */
  readonly sigma?: number;
  /** Multiplies the online share. */
  readonly online?: number;
}

/** A compromised card abused for several days alongside the genuine customer's own spending. */
export interface CompromisedCardKnobs {
  /** Days the card is abused, [min, max] (integers, inclusive). */
  readonly days: readonly [number, number];
  /** Fraudulent transactions per abused day, [min, max] (integers, inclusive). */
  readonly perDay: readonly [number, number];
  /** Share of the fraudulent transactions made online (the rest in person with a cloned card). */
  readonly online: number;
  /** Share of episodes whose in-person use is in a city at least 300 km from home. */
  readonly farShare: number;
  /** Probability that the next transaction continues the current burst (else a new session). */
  readonly burstContinue: number;
}

export interface SimConfig {
  readonly name: string;
  readonly seed: number;
  readonly customers: number;
  /** First day of the observed period (UTC midnight, ISO 8601). */
  readonly start: string;
  /** Observed period length in days; samples are the transactions of this period. */
  readonly days: number;
  /** Days of history before the period for customers who already had the card. */
  readonly warmupDays: number;
  /** Share of customers who open their account during the period. */
  readonly newCustomerShare: number;
  /** Home country weights. */
  readonly countries: Readonly<Record<string, number>>;
  /** Spread of ln(income factor) across customers. */
  readonly incomeSigma: number;
  /** Population mean of a customer's online affinity multiplier. */
  readonly onlineAffinity: number;
  /** Mean trips per customer per year. */
  readonly tripsPerYear: number;
  readonly foreignTripShare: number;
  /** Share of customers with mostly night-time activity (shift workers). */
  readonly nightOwlShare: number;
  /** Share of customers whose issuer sends home_location with each transaction. */
  readonly homeGivenShare: number;
  /** Share of customers whose timestamps carry a local offset instead of Z. */
  readonly offsetStampShare: number;
  /** Share of in-person transactions that reach the detector late (offline terminals). */
  readonly lateShare: number;
  // Optional knobs (see sim.draw.ts). Absent, a knob keeps the original behaviour and draws no
  // random number, so configurations written before them simulate exactly as they did.
  /** Multiplies every amount except fixed price points (app stores, card-testing probes). */
  readonly spendScale?: number;
  /** Multiplies every customer's transaction rates. */
  readonly activityScale?: number;
  /** Spread of ln(activity) across customers (built-in 0.4). */
  readonly activitySigma?: number;
  /** Multiplies the spread of ln(amount) of every category. */
  readonly amountSigmaScale?: number;
  /** Per-category changes to usage, rate, price, spread and online share. */
  readonly categories?: Readonly<
    Partial<Record<MerchantCategory, CategoryKnobs>>
  >;
  /** Hour habits of the customers who are not night owls (built-in: three, equally likely). */
  readonly hourHabits?: ReadonlyArray<{
    readonly mix: HourMix;
    readonly weight: number;
  }>;
  /** Per-customer spread (hours) of the habit centres; spreads and weights vary with it too. */
  readonly hourJitter?: number;
  /** Amounts are capped at this many currency units (the contract's limit); no cap if absent. */
  readonly maxAmount?: number;
  readonly fraud: {
    /** Fraud episodes per customer per year of observed period. */
    readonly episodesPerYear: number;
    /** Scenario weights; a scenario missing here is never drawn (weight 0). */
    readonly mix: Readonly<Partial<Record<Scenario, number>>>;
    /** Multiplies fraud amount factors: below 1 the fraud looks more like normal spend. */
    readonly amountScale: number;
    /** Probability a fraud episode (or compromised-card transaction) is placed at local night. */
    readonly nightShare: number;
    /** Spread of ln(per-episode amount multiplier): some episodes large, others modest. */
    readonly amountSigma?: number;
    /** Multiplies the number of transactions of every burst. */
    readonly burstScale?: number;
    /** Multiplies the minutes between transactions of a burst. */
    readonly spacingScale?: number;
    /** Local hours of fraud not placed at night (built-in: uniform 8-23 h). */
    readonly dayHours?: HourMix;
    /** Category weights fraudsters use in account takeover and compromised cards. */
    readonly categories?: Readonly<Partial<Record<MerchantCategory, number>>>;
    /** Compromised-card amount in a category, as a multiple of the customer's median there. */
    readonly categoryAmount?: Readonly<
      Partial<Record<MerchantCategory, number>>
    >;
    /** The `compromised_card` scenario (built-in defaults if absent). */
    readonly compromised?: CompromisedCardKnobs;
  };
}

/** The population and fraud the shipped model is trained, tuned and first evaluated on. */
export const TRAINING_CONFIG: SimConfig = {
  name: 'train-population',
  seed: 20260105,
  customers: 2400,
  start: '2026-01-05T00:00:00Z',
  days: 120,
  warmupDays: 35,
  newCustomerShare: 0.12,
  countries: {
    US: 0.4,
    CA: 0.06,
    GB: 0.12,
    DE: 0.1,
    FR: 0.1,
    ES: 0.07,
    JP: 0.08,
    AU: 0.07,
  },
  incomeSigma: 0.45,
  onlineAffinity: 1,
  tripsPerYear: 3,
  foreignTripShare: 0.35,
  nightOwlShare: 0.05,
  homeGivenShare: 0.6,
  offsetStampShare: 0.3,
  lateShare: 0.02,
  fraud: {
    episodesPerYear: 0.7,
    mix: {
      card_testing: 0.2,
      account_takeover: 0.22,
      night_online: 0.16,
      impossible_travel: 0.16,
      new_category: 0.14,
      atm_cashout: 0.12,
    },
    amountScale: 1,
    nightShare: 0.35,
  },
};

/**
 * A population training never sees: other countries and habits, more online and more
 * travel, a different fraud mix with lower fraud amounts.
 */
export const SHIFTED_CONFIG: SimConfig = {
  name: 'shifted-population',
  seed: 7700417,
  customers: 1200,
  start: '2026-06-01T00:00:00Z',
  days: 60,
  warmupDays: 35,
  newCustomerShare: 0.2,
  countries: {
    BR: 0.18,
    MX: 0.12,
    IN: 0.15,
    IT: 0.12,
    NL: 0.08,
    SG: 0.1,
    AE: 0.08,
    ZA: 0.07,
    US: 0.1,
  },
  incomeSigma: 0.7,
  onlineAffinity: 1.5,
  tripsPerYear: 5,
  foreignTripShare: 0.55,
  nightOwlShare: 0.1,
  homeGivenShare: 0.3,
  offsetStampShare: 0.6,
  lateShare: 0.05,
  fraud: {
    episodesPerYear: 0.8,
    mix: {
      card_testing: 0.1,
      account_takeover: 0.3,
      night_online: 0.08,
      impossible_travel: 0.22,
      new_category: 0.1,
      atm_cashout: 0.2,
    },
    amountScale: 0.6,
    nightShare: 0.2,
  },
};
