import {
  MERCHANT_CATEGORIES,
  type MerchantCategory,
} from '@ml/anomaly-features';
import {
  SCENARIOS,
  type CategoryKnobs,
  type HourMix,
  type Scenario,
  type SimConfig,
} from './sim.config';
import { Rng } from './sim.random';
import { COUNTRIES } from './sim.world';
import { BASE } from './simulator';

/**
 * What a caller may pin when drawing a configuration. Every other knob is drawn; pinning one
 * never changes the others (all of them are drawn, in a fixed order, before overrides apply).
 */
export type DrawOverrides = Partial<Omit<SimConfig, 'name' | 'fraud'>> & {
  readonly fraud?: Partial<SimConfig['fraud']>;
  /** Home countries, weights drawn (ignored if `countries` is given). */
  readonly countryCodes?: readonly string[];
  /** Mean legitimate transactions per customer per day (drawn in 0.5..12 otherwise). */
  readonly txPerDay?: number;
  /** Share of fraudulent transactions (drawn in 0.3 %..0.8 % otherwise). */
  readonly fraudRate?: number;
};

/** The contract's largest amount (DEFAULT_MAX_AMOUNT of @ml/contracts; the spec checks it). */
export const MAX_AMOUNT = 1_000_000;
const DAY = 86_400_000;
/** Drawn observed periods end by then (the service refuses timestamps in its future). */
const LATEST_END = Date.parse('2026-11-01T00:00:00Z');
const EARLIEST_START = Date.parse('2023-01-02T00:00:00Z');

// Constants of the simulator's habits that the expected rates below need.
const WEEKEND_MEAN = (5 + 2 * 1.2) / 7;
const UNUSED_WEEKLY = 0.004;

function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
}

function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * Mean legitimate transactions per customer-day of a configuration as `a * activityScale + b`
 * (expected values of the simulator's draws; trips and trip boosts are left out).
 */
function rateTerms(cfg: SimConfig): { a: number; b: number } {
  const sigma = cfg.activitySigma ?? 0.4;
  const activity = Math.exp((sigma * sigma) / 2);
  const personal = Math.exp(0.5 ** 2 / 2);
  let a = 0;
  let b = 1 / 150 + (cfg.tripsPerYear * 2) / 365;
  for (const cat of MERCHANT_CATEGORIES) {
    const k = cfg.categories?.[cat];
    const uses = k?.uses ?? BASE[cat].uses;
    a +=
      (uses *
        BASE[cat].weekly *
        (k?.rate ?? 1) *
        activity *
        personal *
        WEEKEND_MEAN) /
      7;
    b += ((1 - uses) * UNUSED_WEEKLY * WEEKEND_MEAN) / 7;
  }
  // Transit, app stores, ATM.
  a += (0.3 * 4 + 0.12 * 0.6 + 0.45 * 0.5 * Math.exp(0.125)) / 7;
  return { a, b };
}

/** Expected legitimate transactions per customer per day (within about 10 %). */
export function expectedTxPerDay(cfg: SimConfig): number {
  const { a, b } = rateTerms(cfg);
  return a * (cfg.activityScale ?? 1) + b;
}

// Mean of burst(lo, hi) in the simulator.
function meanBurst(lo: number, hi: number, scale: number | undefined): number {
  if (scale === undefined) return (lo + hi) / 2;
  const from = Math.max(1, Math.round(lo * scale));
  return (from + Math.max(from, Math.round(hi * scale))) / 2;
}

/** Expected fraudulent transactions per fraud episode. */
export function expectedFraudPerEpisode(cfg: SimConfig): number {
  const f = cfg.fraud;
  const b = f.burstScale;
  const k = f.compromised ?? {
    days: [1, 7],
    perDay: [2, 5],
  };
  const per: Record<Scenario, number> = {
    card_testing: meanBurst(3, 8, b) + 0.6 * meanBurst(1, 2, b),
    account_takeover: meanBurst(3, 9, b),
    night_online: meanBurst(1, 2, b),
    impossible_travel: meanBurst(1, 4, b),
    new_category: meanBurst(1, 3, b),
    atm_cashout: meanBurst(2, 6, b),
    compromised_card:
      ((k.days[0] + k.days[1]) / 2) * ((k.perDay[0] + k.perDay[1]) / 2),
  };
  let total = 0;
  let sum = 0;
  for (const s of SCENARIOS) {
    const w = f.mix[s] ?? 0;
    total += w;
    sum += w * per[s];
  }
  return sum / total;
}

/** Expected customers that give about `transactions` observed transactions. */
export function customersFor(cfg: SimConfig, transactions: number): number {
  const daysPerCustomer = cfg.days * (1 - cfg.newCustomerShare / 2);
  return Math.max(
    1,
    Math.round(transactions / (expectedTxPerDay(cfg) * daysPerCustomer)),
  );
}

function drawHourMix(
  rng: Rng,
  parts: number,
  lo: number,
  hi: number,
): [number, number, number][] {
  const mix: [number, number, number][] = [];
  for (let i = 0; i < parts; i++)
    mix.push([
      round(rng.uniform(lo, hi) % 24, 2),
      round(rng.uniform(0.8, 3), 2),
      round(rng.lognormal(1, 0.5), 3),
    ]);
  return mix;
}

/**
 * A configuration with every knob drawn from wide ranges by a generator seeded with `seed`:
 * countries, spending and currency scale, category price ladder and mix, activity (0.5 to 12
 * transactions per customer-day), hour habits (some populations largely evening / night),
 * amount spread, and fraud (mix, amounts, burst lengths and spacing, hours, categories, and
 * compromised cards abused for days). The fraud rate is drawn in 0.3 %..0.8 % of transactions.
 */
export function drawConfig(
  seed: number,
  name: string,
  overrides: DrawOverrides = {},
): SimConfig {
  const rng = new Rng(seed, 0x7fff_fff0);
  const simSeed = rng.int(1, 0x7fff_ffff);

  // Population.
  const codes = Object.keys(COUNTRIES);
  const picked: string[] = [];
  for (let n = rng.int(1, 4); picked.length < n; ) {
    const code = rng.pick(codes);
    if (!picked.includes(code)) picked.push(code);
  }
  // A weight for every country of the table, so pinning the countries draws nothing else.
  const weightOf: Record<string, number> = {};
  for (const code of codes) weightOf[code] = round(rng.lognormal(1, 0.6), 3);
  const countries: Record<string, number> = {};
  for (const code of overrides.countryCodes ?? picked)
    countries[code] = weightOf[code];

  const startFraction = rng.next();
  const drawnDays = rng.int(60, 400);
  const warmupDays = rng.int(21, 60);
  const newCustomerShare = round(rng.uniform(0.03, 0.25), 3);
  const incomeSigma = round(rng.uniform(0.25, 0.9), 3);
  const onlineAffinity = round(logUniform(rng, 0.5, 2), 3);
  const tripsPerYear = round(logUniform(rng, 0.5, 8), 3);
  const foreignTripShare = round(rng.uniform(0.1, 0.7), 3);
  const nightOwlShare = round(0.3 * rng.next() ** 1.5, 3);
  const homeGivenShare = round(rng.next(), 3);
  const offsetStampShare = round(rng.next(), 3);
  const lateShare = round(rng.uniform(0, 0.05), 4);
  const spendScale = round(logUniform(rng, 0.3, 5), 4);
  const activitySigma = round(rng.uniform(0.2, 0.8), 3);
  const amountSigmaScale = round(logUniform(rng, 0.6, 1.6), 3);
  const favourite = rng.pick(MERCHANT_CATEGORIES);
  const categories = {} as Record<MerchantCategory, CategoryKnobs>;
  for (const cat of MERCHANT_CATEGORIES) {
    const boost = cat === favourite ? rng.uniform(2, 4) : 1;
    categories[cat] = {
      uses: round(
        Math.min(1, Math.max(0.05, BASE[cat].uses + rng.uniform(-0.35, 0.35))),
        3,
      ),
      rate: round(logUniform(rng, 0.25, 4) * boost, 3),
      median: round(logUniform(rng, 0.4, 2.5), 3),
      sigma: round(logUniform(rng, 0.75, 1.35), 3),
      online: round(logUniform(rng, 0.4, 2.2), 3),
    };
  }
  const txPerDay = logUniform(rng, 0.5, 12);
  // Evening-leaning populations push their habit centres late, up to 1 am.
  const lateness = rng.next() ** 1.5;
  const hourHabits: { mix: HourMix; weight: number }[] = [];
  for (let n = rng.int(2, 5); n > 0; n--)
    hourHabits.push({
      mix: drawHourMix(rng, rng.int(1, 3), 7, 19 + 6 * lateness),
      weight: round(rng.lognormal(1, 0.6), 3),
    });
  const hourJitter = round(rng.uniform(0.3, 2.5), 2);

  // Fraud.
  const mix = {} as Record<Scenario, number>;
  for (const s of SCENARIOS)
    mix[s] =
      s === 'compromised_card'
        ? round(logUniform(rng, 0.5, 3), 3)
        : rng.chance(0.2)
          ? 0
          : round(rng.lognormal(0.5, 0.8), 3);
  const fraudRate = logUniform(rng, 0.003, 0.008);
  const amountScale = round(logUniform(rng, 0.35, 2.5), 3);
  const amountSigma = round(rng.uniform(0.2, 0.9), 3);
  const nightShare = round(rng.uniform(0.05, 0.8), 3);
  const burstScale = round(logUniform(rng, 0.5, 2.5), 3);
  const spacingScale = round(logUniform(rng, 0.2, 6), 3);
  const dayHours = drawHourMix(rng, rng.int(1, 3), 7, 23.5);
  const fraudCats: Partial<Record<MerchantCategory, number>> = {};
  const categoryAmount: Partial<Record<MerchantCategory, number>> = {};
  for (let n = rng.int(2, 6); Object.keys(fraudCats).length < n; ) {
    const cat = rng.pick(MERCHANT_CATEGORIES);
    if (fraudCats[cat] !== undefined) continue;
    fraudCats[cat] = round(rng.lognormal(1, 0.7), 3);
    // Large in some categories, ordinary in others.
    categoryAmount[cat] = round(
      rng.chance(0.5) ? rng.uniform(0.7, 1.5) : logUniform(rng, 2, 10),
      3,
    );
  }
  const daysLo = rng.int(1, 3);
  const perDayLo = rng.int(1, 3);
  const compromised = {
    days: [daysLo, rng.int(daysLo, 14)] as const,
    perDay: [perDayLo, perDayLo + rng.int(0, 5)] as const,
    online: round(
      rng.chance(0.6) ? rng.uniform(0.6, 0.95) : rng.uniform(0.05, 0.4),
      3,
    ),
    farShare: round(rng.uniform(0, 0.7), 3),
    burstContinue: round(rng.uniform(0.2, 0.8), 3),
  };

  const {
    fraud,
    countryCodes: _codes,
    txPerDay: pinnedRate,
    fraudRate: pinnedFraud,
    ...rest
  } = overrides;
  const days = rest.days ?? drawnDays;
  const latestStart = Math.floor((LATEST_END - EARLIEST_START) / DAY) - days;
  const base: SimConfig = {
    name,
    seed: simSeed,
    customers: 1000,
    start: new Date(
      EARLIEST_START + Math.floor(startFraction * latestStart) * DAY,
    ).toISOString(),
    days,
    warmupDays,
    newCustomerShare,
    countries,
    incomeSigma,
    onlineAffinity,
    tripsPerYear,
    foreignTripShare,
    nightOwlShare,
    homeGivenShare,
    offsetStampShare,
    lateShare,
    spendScale,
    activitySigma,
    amountSigmaScale,
    categories,
    hourHabits,
    hourJitter,
    maxAmount: MAX_AMOUNT,
    ...rest,
    fraud: {
      episodesPerYear: 1,
      mix,
      amountScale,
      nightShare,
      amountSigma,
      burstScale,
      spacingScale,
      dayHours,
      categories: fraudCats,
      categoryAmount,
      compromised,
      ...fraud,
    },
  };
  const { a, b } = rateTerms(base);
  const activityScale =
    rest.activityScale ??
    round(Math.max(0.05, ((pinnedRate ?? txPerDay) - b) / a), 4);
  const sized: SimConfig = { ...base, activityScale };
  // Episodes per customer-year that give the fraud rate at this activity.
  const legitPerYear = expectedTxPerDay(sized) * 365;
  const rate = pinnedFraud ?? fraudRate;
  const episodesPerYear =
    fraud?.episodesPerYear ??
    round(
      ((rate / (1 - rate)) * legitPerYear) / expectedFraudPerEpisode(sized),
      4,
    );
  return { ...sized, fraud: { ...sized.fraud, episodesPerYear } };
}
