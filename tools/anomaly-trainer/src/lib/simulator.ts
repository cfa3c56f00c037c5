import {
  MERCHANT_CATEGORIES,
  type Channel,
  type GeoPoint,
  type MerchantCategory,
  type TransactionInput,
} from '@ml/anomaly-features';
import { Rng } from './sim.random';
import {
  SCENARIOS,
  type CompromisedCardKnobs,
  type HourMix,
  type Scenario,
  type SimConfig,
} from './sim.config';
import {
  CITIES,
  COUNTRIES,
  citiesOf,
  type City,
  type Country,
} from './sim.world';

/** One simulated transaction with its ground truth. */
export interface SimTransaction {
  readonly tx: TransactionInput;
  readonly fraud: boolean;
  readonly scenario: Scenario | undefined;
  /** Event time, epoch ms. */
  readonly ts: number;
  /** When the detector receives it: later than `ts` for offline terminals. */
  readonly arrival: number;
}

/** A customer's transactions in arrival order (the order a live detector folds them). */
export interface CustomerStream {
  readonly userId: string;
  readonly transactions: readonly SimTransaction[];
}

interface CategoryHabit {
  /** Transactions per week; near 0 for categories the customer does not use. */
  readonly weekly: number;
  readonly medianUsd: number;
  readonly sigma: number;
  readonly online: number;
}

interface Customer {
  readonly id: string;
  readonly city: City;
  readonly country: Country;
  readonly home: GeoPoint;
  readonly homeGiven: boolean;
  readonly offsetStamps: boolean;
  readonly hours: HourMix;
  readonly habits: Readonly<Record<MerchantCategory, CategoryHabit>>;
  readonly transitWeekly: number;
  readonly appStoreWeekly: number;
  readonly atmWeekly: number;
  readonly atmMedianUsd: number;
  readonly typicalUsd: number;
  readonly income: number;
  readonly joinDay: number;
}

interface Trip {
  readonly city: City;
  /** Leaves home, lands at the destination, leaves it, lands home (epoch ms). */
  readonly depart: number;
  readonly arrive: number;
  readonly leave: number;
  readonly back: number;
}

interface Event {
  ts: number;
  usd: number;
  category: MerchantCategory;
  channel: Channel;
  city: City;
  at: GeoPoint | undefined;
  fraud: boolean;
  scenario: Scenario | undefined;
  /** Forces a currency (fraudsters testing in USD); else the currency of where the card is used. */
  currency?: string;
  /** Amount already in local cash units (ATM). */
  cash?: number;
}

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MIN = 60_000;

/** Built-in habit of each category (the knobs of `SimConfig.categories` multiply these). */
export const BASE: Readonly<
  Record<
    MerchantCategory,
    {
      weekly: number;
      median: number;
      sigma: number;
      online: number;
      uses: number;
    }
  >
> = {
  grocery: { weekly: 2.5, median: 45, sigma: 0.6, online: 0.1, uses: 0.97 },
  restaurants: { weekly: 2, median: 28, sigma: 0.55, online: 0.15, uses: 0.9 },
  gas_transport: {
    weekly: 1.4,
    median: 38,
    sigma: 0.5,
    online: 0.05,
    uses: 0.85,
  },
  shopping: { weekly: 1, median: 55, sigma: 0.85, online: 0.5, uses: 0.95 },
  entertainment: {
    weekly: 0.6,
    median: 30,
    sigma: 0.7,
    online: 0.55,
    uses: 0.8,
  },
  health_fitness: {
    weekly: 0.35,
    median: 40,
    sigma: 0.6,
    online: 0.25,
    uses: 0.6,
  },
  home: { weekly: 0.3, median: 70, sigma: 0.9, online: 0.35, uses: 0.7 },
  kids_pets: { weekly: 0.5, median: 40, sigma: 0.6, online: 0.3, uses: 0.4 },
  personal_care: {
    weekly: 0.4,
    median: 35,
    sigma: 0.5,
    online: 0.15,
    uses: 0.75,
  },
  travel: { weekly: 0.1, median: 250, sigma: 0.9, online: 0.8, uses: 0.55 },
  misc: { weekly: 0.4, median: 20, sigma: 0.9, online: 0.45, uses: 0.85 },
};

// Hour-of-day mixtures (local time): [centre, spread, weight].
export const HOUR_TYPES: readonly HourMix[] = [
  [
    [12.5, 2.5, 0.5],
    [18.5, 2, 0.5],
  ],
  [
    [8.5, 2, 0.5],
    [13, 2, 0.5],
  ],
  [
    [18.5, 2, 0.5],
    [21.5, 1.5, 0.5],
  ],
];
export const NIGHT_HOURS: HourMix = [
  [23.5, 2, 0.5],
  [2.5, 2, 0.5],
];

export function distanceKm(a: GeoPoint, b: GeoPoint): number {
  const r = Math.PI / 180;
  const s =
    Math.sin(((b.lat - a.lat) * r) / 2) ** 2 +
    Math.cos(a.lat * r) *
      Math.cos(b.lat * r) *
      Math.sin(((b.lon - a.lon) * r) / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(s)));
}

function jitter(rng: Rng, p: GeoPoint, km: number): GeoPoint {
  const lat = p.lat + (rng.normal() * km) / 111;
  const lon =
    p.lon + (rng.normal() * km) / (111 * Math.cos((p.lat * Math.PI) / 180));
  return { lat: Math.round(lat * 1e4) / 1e4, lon: Math.round(lon * 1e4) / 1e4 };
}

function countryOf(city: City): Country {
  return COUNTRIES[city.country];
}

function sampleHour(rng: Rng, mix: HourMix): number {
  const [centre, spread] = rng.weighted(
    mix,
    mix.map((m) => m[2]),
  );
  return (((centre + spread * rng.normal()) % 24) + 24) % 24;
}

// A customer's hour habit: the population's habits (or the built-in ones), shifted per customer.
function pickHours(cfg: SimConfig, rng: Rng, night: boolean): HourMix {
  const habits = cfg.hourHabits;
  let mix: HourMix;
  if (night) mix = NIGHT_HOURS;
  else if (habits)
    mix = rng.weighted(
      habits.map((h) => h.mix),
      habits.map((h) => h.weight),
    );
  else mix = rng.pick(HOUR_TYPES);
  const jitter = cfg.hourJitter;
  if (!jitter) return mix;
  return mix.map(
    ([centre, spread, weight]) =>
      [
        centre + jitter * rng.normal(),
        spread * rng.lognormal(1, 0.3),
        weight * rng.lognormal(1, 0.5),
      ] as const,
  );
}

function makeCustomer(cfg: SimConfig, rng: Rng, index: number): Customer {
  const codes = Object.keys(cfg.countries);
  const code = rng.weighted(
    codes,
    codes.map((c) => cfg.countries[c]),
  );
  const city = rng.pick(citiesOf(code));
  const country = COUNTRIES[code];
  // The spending scale rides on income, which every amount of the customer's scales with.
  const income =
    Math.exp(cfg.incomeSigma * rng.normal()) * (cfg.spendScale ?? 1);
  const activity = rng.lognormal(1, cfg.activitySigma ?? 0.4);
  const rate = cfg.activityScale ?? 1;
  const sigmaScale = cfg.amountSigmaScale ?? 1;
  const affinity = rng.lognormal(cfg.onlineAffinity, 0.4);
  const habits = {} as Record<MerchantCategory, CategoryHabit>;
  let wSum = 0;
  let wLog = 0;
  for (const cat of MERCHANT_CATEGORIES) {
    const b = BASE[cat];
    const k = cfg.categories?.[cat];
    const uses = rng.chance(k?.uses ?? b.uses);
    const weekly = uses
      ? b.weekly * ((k?.rate ?? 1) * rate) * activity * rng.lognormal(1, 0.5)
      : 0.004;
    const medianUsd =
      b.median *
      (k?.median ?? 1) *
      income *
      country.priceLevel *
      rng.lognormal(1, 0.25);
    habits[cat] = {
      weekly,
      medianUsd,
      sigma: b.sigma * ((k?.sigma ?? 1) * sigmaScale) * rng.uniform(0.7, 1.2),
      online: Math.min(0.95, b.online * (k?.online ?? 1) * affinity),
    };
    wSum += weekly;
    wLog += weekly * Math.log(medianUsd);
  }
  const night = rng.chance(cfg.nightOwlShare);
  const newcomer = rng.chance(cfg.newCustomerShare);
  return {
    id: `${cfg.name}-u${String(index).padStart(5, '0')}`,
    city,
    country,
    home: jitter(rng, city, 8),
    homeGiven: rng.chance(cfg.homeGivenShare),
    offsetStamps: rng.chance(cfg.offsetStampShare),
    hours: pickHours(cfg, rng, night),
    habits,
    transitWeekly: rng.chance(0.3) ? rng.uniform(2, 6) * rate : 0,
    appStoreWeekly: rng.chance(0.12) ? rng.uniform(0.2, 1) * rate : 0,
    atmWeekly: rng.chance(0.45) ? rng.lognormal(0.5, 0.5) * rate : 0,
    atmMedianUsd: 100 * income * country.priceLevel,
    typicalUsd: Math.exp(wLog / wSum),
    income,
    joinDay: newcomer ? rng.int(0, cfg.days - 1) : -cfg.warmupDays,
  };
}

function planTrips(
  cfg: SimConfig,
  rng: Rng,
  c: Customer,
  startMs: number,
): Trip[] {
  const span = cfg.days - c.joinDay;
  const count = rng.poisson(
    (cfg.tripsPerYear * rng.lognormal(1, 0.6) * span) / 365,
  );
  const trips: Trip[] = [];
  for (let i = 0; i < count; i++) {
    const domestic = citiesOf(c.city.country).filter((x) => x !== c.city);
    const foreign = CITIES.filter((x) => x.country !== c.city.country);
    const city =
      domestic.length > 0 && !rng.chance(cfg.foreignTripShare)
        ? rng.pick(domestic)
        : rng.pick(foreign);
    const day = rng.int(c.joinDay + 2, cfg.days - 1);
    const flight = (distanceKm(c.city, city) / 750 + 2) * HOUR;
    const depart =
      startMs + day * DAY + (rng.uniform(6, 20) - c.city.tz) * HOUR;
    const arrive = depart + flight;
    const leave = arrive + rng.int(2, 9) * DAY;
    const trip = { city, depart, arrive, leave, back: leave + flight };
    if (
      trips.every(
        (t) => trip.back + DAY < t.depart || trip.depart > t.back + DAY,
      )
    )
      trips.push(trip);
  }
  return trips;
}

// Where the card holder is at time ts: a trip city, home, or in the air (undefined).
function whereAt(
  c: Customer,
  trips: readonly Trip[],
  ts: number,
): City | undefined {
  for (const t of trips) {
    if (ts >= t.depart && ts < t.arrive) return undefined;
    if (ts >= t.arrive && ts < t.leave) return t.city;
    if (ts >= t.leave && ts < t.back) return undefined;
  }
  return c.city;
}

function localDayStart(startMs: number, day: number, city: City): number {
  return startMs + day * DAY - city.tz * HOUR;
}

function inPersonAt(rng: Rng, c: Customer, city: City): GeoPoint {
  if (city === c.city)
    return rng.chance(0.05) ? jitter(rng, c.home, 60) : jitter(rng, c.home, 6);
  return jitter(rng, city, 8);
}

function legitEvents(
  cfg: SimConfig,
  rng: Rng,
  c: Customer,
  trips: readonly Trip[],
  startMs: number,
): Event[] {
  const events: Event[] = [];
  const spend = cfg.spendScale ?? 1;
  const add = (
    ts: number,
    usd: number,
    category: MerchantCategory,
    online: boolean,
    atm = false,
  ): void => {
    const city = whereAt(c, trips, ts);
    if (!city && !online) return;
    const channel: Channel = atm ? 'atm' : online ? 'online' : 'in_store';
    const here = city ?? c.city;
    let cash: number | undefined;
    if (atm) {
      const country = countryOf(here);
      cash =
        Math.max(1, Math.round((usd * country.perUsd) / country.cashStep)) *
        country.cashStep;
    }
    events.push({
      ts,
      usd,
      category,
      channel,
      city: online ? c.city : here,
      at: online
        ? rng.chance(0.25)
          ? jitter(rng, rng.pick(CITIES), 10)
          : undefined
        : rng.chance(0.92)
          ? inPersonAt(rng, c, here)
          : undefined,
      fraud: false,
      scenario: undefined,
      cash,
    });
  };
  for (let day = c.joinDay; day < cfg.days; day++) {
    const trip = trips.find(
      (t) =>
        t.arrive < startMs + (day + 1) * DAY && t.leave > startMs + day * DAY,
    );
    const city = trip ? trip.city : c.city;
    const dayStart = localDayStart(startMs, day, city);
    const weekend =
      new Date(startMs + day * DAY).getUTCDay() % 6 === 0 ? 1.2 : 1;
    const price = trip ? countryOf(city).priceLevel / c.country.priceLevel : 1;
    const at = (): number =>
      dayStart + sampleHour(rng, c.hours) * HOUR + rng.int(0, 59) * 1000;
    for (const cat of MERCHANT_CATEGORIES) {
      const h = c.habits[cat];
      const boost =
        trip &&
        (cat === 'restaurants' || cat === 'travel' || cat === 'entertainment')
          ? 1.8
          : 1;
      const n = rng.poisson((h.weekly / 7) * weekend * boost);
      for (let k = 0; k < n; k++) {
        add(
          at(),
          rng.lognormal(h.medianUsd * price, h.sigma),
          cat,
          rng.chance(h.online),
        );
      }
    }
    for (let k = rng.poisson(c.transitWeekly / 7); k > 0; k--) {
      add(
        at(),
        rng.uniform(1.2, 3.2) * countryOf(city).priceLevel * spend,
        'gas_transport',
        false,
      );
    }
    for (let k = rng.poisson(c.appStoreWeekly / 7); k > 0; k--) {
      add(at(), rng.pick([0.99, 1.99, 2.99, 4.99]), 'entertainment', true);
    }
    for (let k = rng.poisson(c.atmWeekly / 7); k > 0; k--) {
      add(
        at(),
        rng.lognormal(c.atmMedianUsd * price, 0.5),
        'misc',
        false,
        true,
      );
    }
    // Legitimate outliers: a sofa, a laptop, a holiday package.
    if (rng.chance(1 / 150)) {
      const cat = rng.pick<MerchantCategory>(['home', 'shopping', 'travel']);
      add(
        at(),
        c.habits[cat].medianUsd * rng.uniform(4, 15),
        cat,
        rng.chance(0.5),
      );
    }
  }
  for (const t of trips) {
    // Flights and hotels are bought online before leaving, and the hotel paid on arrival.
    const booked = t.depart - rng.int(3, 30) * DAY;
    if (booked > startMs + c.joinDay * DAY) {
      add(
        booked,
        rng.lognormal(400 * c.income * c.country.priceLevel, 0.5),
        'travel',
        true,
      );
    }
    add(
      t.arrive + rng.uniform(1, 3) * HOUR,
      rng.lognormal(150 * c.income * countryOf(t.city).priceLevel, 0.4),
      'travel',
      false,
    );
  }
  return events;
}

function farCity(rng: Rng, c: Customer, minKm: number): City {
  const far = CITIES.filter((x) => distanceKm(x, c.city) >= minKm);
  return rng.pick(far);
}

function fraudEvents(
  cfg: SimConfig,
  rng: Rng,
  c: Customer,
  legit: readonly Event[],
  startMs: number,
): Event[] {
  const first = Math.max(0, c.joinDay);
  const years = (cfg.days - first) / 365;
  const f = cfg.fraud;
  const episodes = rng.poisson(f.episodesPerYear * years);
  const spend = cfg.spendScale ?? 1;
  const gap = MIN * (f.spacingScale ?? 1);
  // Scenarios the mix names (the original six in configurations that predate the others).
  const scenarios = SCENARIOS.filter((x) => f.mix[x] !== undefined);
  const weights = scenarios.map((x) => f.mix[x] ?? 0);
  const out: Event[] = [];
  // Transactions in a burst of [lo, hi], scaled by the configuration's burst length.
  const burst = (lo: number, hi: number): number => {
    const b = f.burstScale;
    if (b === undefined) return rng.int(lo, hi);
    const from = Math.max(1, Math.round(lo * b));
    return rng.int(from, Math.max(from, Math.round(hi * b)));
  };
  // Local hour of a fraudulent transaction: night with probability nightShare, else day hours.
  const fraudHour = (): number =>
    rng.chance(f.nightShare)
      ? rng.uniform(0, 5)
      : f.dayHours
        ? sampleHour(rng, f.dayHours)
        : rng.uniform(8, 23);
  const push = (
    e: Omit<Event, 'fraud' | 'scenario'>,
    scenario: Scenario,
  ): void => {
    out.push({ ...e, fraud: true, scenario });
  };
  const homeOnline = (
    ts: number,
    usd: number,
    category: MerchantCategory,
    scenario: Scenario,
    currency?: string,
  ): void =>
    push(
      {
        ts,
        usd,
        category,
        channel: 'online',
        city: c.city,
        at: rng.chance(0.25) ? jitter(rng, rng.pick(CITIES), 10) : undefined,
        currency,
      },
      scenario,
    );

  for (let e = 0; e < episodes; e++) {
    let scenario = rng.weighted(scenarios, weights);
    const day = rng.int(first, cfg.days - 1);
    let t = localDayStart(startMs, day, c.city) + fraudHour() * HOUR;
    const s =
      f.amountSigma === undefined
        ? f.amountScale
        : f.amountScale * rng.lognormal(1, f.amountSigma);

    const anchors = legit.filter(
      (x) =>
        x.channel !== 'online' &&
        x.city === c.city &&
        x.at &&
        x.ts >= startMs + first * DAY,
    );
    if (scenario === 'impossible_travel' && anchors.length === 0)
      scenario = 'atm_cashout';

    switch (scenario) {
      case 'card_testing': {
        const currency = rng.chance(0.5) ? 'USD' : undefined;
        for (let k = burst(3, 8); k > 0; k--) {
          homeOnline(
            t,
            rng.uniform(0.5, 2.5),
            rng.pick<MerchantCategory>(['misc', 'entertainment', 'shopping']),
            scenario,
            currency,
          );
          t += rng.uniform(0.5, 8) * gap;
        }
        if (rng.chance(0.6)) {
          for (let k = burst(1, 2); k > 0; k--) {
            t += rng.uniform(20, 360) * gap;
            homeOnline(
              t,
              Math.max(150 * spend, c.typicalUsd * rng.uniform(4, 20) * s),
              rng.pick<MerchantCategory>([
                'shopping',
                'travel',
                'entertainment',
              ]),
              scenario,
              currency,
            );
          }
        }
        break;
      }
      case 'account_takeover': {
        const currency = rng.chance(0.3) ? rng.pick(['USD', 'EUR']) : undefined;
        const cats: MerchantCategory[] = [
          'shopping',
          'entertainment',
          'travel',
          'misc',
        ];
        const pool = f.categories ? fraudCategories(f.categories) : undefined;
        for (let k = burst(3, 9); k > 0; k--) {
          homeOnline(
            t,
            c.typicalUsd * rng.uniform(2, 12) * s,
            pool
              ? rng.weighted(pool.cats, pool.weights)
              : rng.weighted(cats, [0.4, 0.2, 0.2, 0.2]),
            scenario,
            currency,
          );
          t += rng.uniform(3, 30) * gap;
        }
        break;
      }
      case 'night_online': {
        t = localDayStart(startMs, day, c.city) + rng.uniform(0, 5) * HOUR;
        for (let k = burst(1, 2); k > 0; k--) {
          homeOnline(
            t,
            c.typicalUsd * rng.uniform(6, 30) * s,
            rng.pick<MerchantCategory>(['shopping', 'travel']),
            scenario,
          );
          t += rng.uniform(5, 60) * gap;
        }
        break;
      }
      case 'impossible_travel': {
        const anchor = rng.pick(anchors);
        const city = farCity(rng, c, 1500);
        t = anchor.ts + rng.uniform(10, 120) * MIN;
        for (let k = burst(1, 4); k > 0; k--) {
          const atm = rng.chance(0.2);
          const usd = atm
            ? rng.uniform(150, 500) * s * spend
            : c.typicalUsd * rng.uniform(1.5, 8) * s;
          const country = countryOf(city);
          push(
            {
              ts: t,
              usd,
              category: atm
                ? 'misc'
                : rng.pick<MerchantCategory>([
                    'shopping',
                    'misc',
                    'restaurants',
                    'gas_transport',
                  ]),
              channel: atm ? 'atm' : 'in_store',
              city,
              at: jitter(rng, city, 8),
              cash: atm ? cashOf(usd, country) : undefined,
            },
            scenario,
          );
          t += rng.uniform(10, 60) * gap;
        }
        break;
      }
      case 'new_category': {
        const unused = MERCHANT_CATEGORIES.filter(
          (x) => c.habits[x].weekly < 0.01,
        );
        const pool =
          unused.length > 0
            ? unused
            : [...MERCHANT_CATEGORIES]
                .sort((a, b) => c.habits[a].weekly - c.habits[b].weekly)
                .slice(0, 2);
        for (let k = burst(1, 3); k > 0; k--) {
          const cat = rng.pick(pool);
          const usd =
            BASE[cat].median *
            (cfg.categories?.[cat]?.median ?? 1) *
            c.income *
            c.country.priceLevel *
            rng.uniform(2, 8) *
            s;
          if (rng.chance(0.6)) homeOnline(t, usd, cat, scenario);
          else
            push(
              {
                ts: t,
                usd,
                category: cat,
                channel: 'in_store',
                city: c.city,
                at: jitter(rng, c.home, 10),
              },
              scenario,
            );
          t += rng.uniform(10, 240) * gap;
        }
        break;
      }
      case 'atm_cashout': {
        const city = rng.chance(0.5) ? farCity(rng, c, 300) : c.city;
        const country = countryOf(city);
        if (rng.chance(0.5))
          t = localDayStart(startMs, day, city) + rng.uniform(0, 5) * HOUR;
        for (let k = burst(2, 6); k > 0; k--) {
          const usd =
            rng.uniform(200, 800) * Math.sqrt(s) * country.priceLevel * spend;
          const cash = cashOf(usd, country);
          push(
            {
              ts: t,
              usd,
              category: 'misc',
              channel: 'atm',
              city,
              at:
                city === c.city
                  ? jitter(rng, c.home, 10)
                  : jitter(rng, city, 8),
              cash,
            },
            scenario,
          );
          t += rng.uniform(5, 40) * gap;
        }
        break;
      }
      case 'compromised_card': {
        // The card details are stolen and used for days, while the genuine customer keeps using
        // the card (their own transactions continue in the stream).
        const k = f.compromised ?? DEFAULT_COMPROMISED;
        const pool = fraudCategories(f.categories ?? DEFAULT_FRAUD_CATEGORIES);
        const span = rng.int(k.days[0], k.days[1]);
        const city = rng.chance(k.farShare) ? farCity(rng, c, 300) : c.city;
        const country = countryOf(city);
        for (let d = 0; d < span; d++) {
          // The first day starts at the episode's hour, later days at a fresh fraud hour.
          if (d > 0)
            t = localDayStart(startMs, day + d, c.city) + fraudHour() * HOUR;
          for (let n = rng.int(k.perDay[0], k.perDay[1]); n > 0; n--) {
            const cat = rng.weighted(pool.cats, pool.weights);
            const usd =
              c.habits[cat].medianUsd *
              (f.categoryAmount?.[cat] ?? 1) *
              rng.lognormal(1, 0.35) *
              s;
            if (rng.chance(k.online)) homeOnline(t, usd, cat, scenario);
            else {
              const atm = cat === 'misc' && rng.chance(0.4);
              // Cloned cards are used where the fraudster is: local time of that city.
              const at =
                city === c.city
                  ? jitter(rng, c.home, 15)
                  : jitter(rng, city, 8);
              push(
                {
                  ts: t + (c.city.tz - city.tz) * HOUR,
                  usd,
                  category: cat,
                  channel: atm ? 'atm' : 'in_store',
                  city,
                  at,
                  cash: atm ? cashOf(usd, country) : undefined,
                },
                scenario,
              );
            }
            t = rng.chance(k.burstContinue)
              ? t + rng.uniform(2, 40) * gap
              : localDayStart(startMs, day + d, c.city) + fraudHour() * HOUR;
          }
        }
        break;
      }
    }
  }
  return out;
}

const DEFAULT_COMPROMISED: CompromisedCardKnobs = {
  days: [1, 7],
  perDay: [2, 5],
  online: 0.6,
  farShare: 0.4,
  burstContinue: 0.5,
};

const DEFAULT_FRAUD_CATEGORIES: Readonly<
  Partial<Record<MerchantCategory, number>>
> = {
  shopping: 0.35,
  entertainment: 0.15,
  travel: 0.15,
  misc: 0.15,
  restaurants: 0.1,
  grocery: 0.1,
};

function fraudCategories(
  weights: Readonly<Partial<Record<MerchantCategory, number>>>,
): { cats: MerchantCategory[]; weights: number[] } {
  const cats = MERCHANT_CATEGORIES.filter((x) => (weights[x] ?? 0) > 0);
  return { cats, weights: cats.map((x) => weights[x] ?? 0) };
}

function cashOf(usd: number, country: Country): number {
  return (
    Math.max(1, Math.round((usd * country.perUsd) / country.cashStep)) *
    country.cashStep
  );
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** ISO 8601 with the local offset of `tz` hours, e.g. 2026-01-05T21:04:09+09:00. */
export function isoWithOffset(ts: number, tz: number): string {
  const d = new Date(ts + tz * HOUR);
  const sign = tz < 0 ? '-' : '+';
  const abs = Math.abs(tz);
  const off = `${sign}${pad(Math.floor(abs))}:${pad(Math.round((abs % 1) * 60))}`;
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${off}`;
}

// 64 random bits as hex, like the opaque ids card networks assign.
function txId(rng: Rng): string {
  const part = (): string =>
    Math.floor(rng.next() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return part() + part();
}

function toAmount(e: Event, currency: string, max = Infinity): number {
  if (e.cash !== undefined) return Math.min(e.cash, max);
  const country =
    Object.values(COUNTRIES).find((x) => x.currency === currency) ??
    COUNTRIES['US'];
  const local = Math.min(e.usd * country.perUsd, max);
  if (country.decimals === 0) return Math.max(1, Math.round(local));
  return Math.max(0.01, Math.round(local * 100) / 100);
}

/** Simulates one customer: a pure function of (config, index). */
export function simulateCustomer(
  cfg: SimConfig,
  index: number,
): CustomerStream {
  const rng = new Rng(cfg.seed, index);
  const startMs = Date.parse(cfg.start);
  const c = makeCustomer(cfg, rng, index);
  const trips = planTrips(cfg, rng, c, startMs);
  const legit = legitEvents(cfg, rng, c, trips, startMs);
  const events = legit.concat(fraudEvents(cfg, rng, c, legit, startMs));
  const joined = startMs + c.joinDay * DAY;
  const kept = events.filter(
    (e) => e.ts >= joined && e.ts < startMs + cfg.days * DAY,
  );
  kept.sort((a, b) => a.ts - b.ts);

  const out: SimTransaction[] = kept.map((e) => {
    const currency =
      e.currency ??
      (e.channel === 'online'
        ? c.country.currency
        : countryOf(e.city).currency);
    const tz =
      e.channel === 'online'
        ? (whereAt(c, trips, e.ts) ?? c.city).tz
        : e.city.tz;
    const ts = Math.floor(e.ts / 1000) * 1000;
    const tx: TransactionInput = {
      transaction_id: `tx_${txId(rng)}`,
      user_id: c.id,
      amount: toAmount(e, currency, cfg.maxAmount),
      currency,
      timestamp: c.offsetStamps
        ? isoWithOffset(ts, tz)
        : new Date(ts).toISOString(),
      merchant_category: e.category,
      channel: e.channel,
      ...(e.at ? { merchant_location: e.at } : {}),
      ...(c.homeGiven ? { home_location: c.home } : {}),
    };
    const late =
      !e.fraud && e.channel !== 'online' && rng.chance(cfg.lateShare);
    return {
      tx,
      fraud: e.fraud,
      scenario: e.scenario,
      ts,
      arrival: late ? ts + rng.uniform(1, 30) * HOUR : ts,
    };
  });
  out.sort((a, b) => a.arrival - b.arrival);
  return { userId: c.id, transactions: out };
}

/** Every customer of a configuration, one at a time (the whole population never sits in memory). */
export function* simulate(
  cfg: SimConfig,
  customers = cfg.customers,
): Generator<CustomerStream> {
  for (let i = 0; i < customers; i++) yield simulateCustomer(cfg, i);
}
