/**
 * Deterministic, realistic card transactions for the anomaly benchmark.
 *
 * Transaction k of a stream is a pure function of (options, k): no state, so a benchmark can hand
 * out transaction 0, 1, 2, ... to one server instance and the same sequence to the next. What makes
 * the traffic valid for a stateful detector:
 *
 * - every transaction id is distinct (`tx_<hash><k in hex>`): a detector that has seen an id
 *   scores a repeat but does not fold it into the customer's history, which would flatter it;
 * - event times grow with k (a global clock with a daily rhythm, at most `now`), so every customer's
 *   transactions arrive in time order, and any run of consecutive transactions (a batch) is in
 *   time order too;
 * - customers differ: home city (currency, time zone, prices), income, how active they are (a few
 *   heavy users, many light ones), categories they use, online share, whether the issuer sends a
 *   home location, whether timestamps carry a local offset.
 *
 * The shape is the detector's transaction contract (docs/ARCHITECTURE.md); the categories and
 * channels come from the contract lib itself.
 */
import { MERCHANT_CATEGORIES, type Channel, type MerchantCategory } from '@ml/contracts';

/** The contract's categories, in the contract's order (the detector's feature codes are their indices). */
export const CATEGORIES = MERCHANT_CATEGORIES;
export type Category = MerchantCategory;

/** The detector's transaction body (one item of `/predict/anomaly/batch`). */
export interface BenchTransaction {
  transaction_id: string;
  user_id: string;
  amount: number;
  currency: string;
  timestamp: string;
  merchant_category: Category;
  channel: Channel;
  merchant_location?: { lat: number; lon: number };
  home_location?: { lat: number; lon: number };
}

interface City {
  name: string;
  lat: number;
  lon: number;
  /** Standard UTC offset, hours. */
  tz: number;
  currency: string;
  /** Local currency units per USD (approximate), and the smallest unit used in prices. */
  perUsd: number;
  decimals: 0 | 2;
  /** Prices relative to the US. */
  price: number;
  /** Share of customers living there. */
  weight: number;
}

const CITIES: readonly City[] = [
  { name: 'London', lat: 51.5072, lon: -0.1276, tz: 0, currency: 'GBP', perUsd: 0.79, decimals: 2, price: 1.05, weight: 10 },
  { name: 'Manchester', lat: 53.4808, lon: -2.2426, tz: 0, currency: 'GBP', perUsd: 0.79, decimals: 2, price: 0.9, weight: 4 },
  { name: 'Dublin', lat: 53.3498, lon: -6.2603, tz: 0, currency: 'EUR', perUsd: 0.93, decimals: 2, price: 1, weight: 2 },
  { name: 'Paris', lat: 48.8566, lon: 2.3522, tz: 1, currency: 'EUR', perUsd: 0.93, decimals: 2, price: 1, weight: 6 },
  { name: 'Berlin', lat: 52.52, lon: 13.405, tz: 1, currency: 'EUR', perUsd: 0.93, decimals: 2, price: 0.9, weight: 6 },
  { name: 'Madrid', lat: 40.4168, lon: -3.7038, tz: 1, currency: 'EUR', perUsd: 0.93, decimals: 2, price: 0.8, weight: 4 },
  { name: 'Milan', lat: 45.4642, lon: 9.19, tz: 1, currency: 'EUR', perUsd: 0.93, decimals: 2, price: 0.9, weight: 3 },
  { name: 'Amsterdam', lat: 52.3676, lon: 4.9041, tz: 1, currency: 'EUR', perUsd: 0.93, decimals: 2, price: 1, weight: 3 },
  { name: 'Stockholm', lat: 59.3293, lon: 18.0686, tz: 1, currency: 'SEK', perUsd: 10.5, decimals: 2, price: 1, weight: 2 },
  { name: 'Warsaw', lat: 52.2297, lon: 21.0122, tz: 1, currency: 'PLN', perUsd: 4, decimals: 2, price: 0.6, weight: 3 },
  { name: 'Zurich', lat: 47.3769, lon: 8.5417, tz: 1, currency: 'CHF', perUsd: 0.88, decimals: 2, price: 1.4, weight: 1 },
  { name: 'Athens', lat: 37.9838, lon: 23.7275, tz: 2, currency: 'EUR', perUsd: 0.93, decimals: 2, price: 0.7, weight: 1 },
  { name: 'New York', lat: 40.7128, lon: -74.006, tz: -5, currency: 'USD', perUsd: 1, decimals: 2, price: 1.2, weight: 6 },
  { name: 'Chicago', lat: 41.8781, lon: -87.6298, tz: -6, currency: 'USD', perUsd: 1, decimals: 2, price: 1, weight: 3 },
  { name: 'San Francisco', lat: 37.7749, lon: -122.4194, tz: -8, currency: 'USD', perUsd: 1, decimals: 2, price: 1.3, weight: 3 },
  { name: 'Toronto', lat: 43.6532, lon: -79.3832, tz: -5, currency: 'CAD', perUsd: 1.37, decimals: 2, price: 0.95, weight: 2 },
  { name: 'Mexico City', lat: 19.4326, lon: -99.1332, tz: -6, currency: 'MXN', perUsd: 18, decimals: 2, price: 0.5, weight: 2 },
  { name: 'Sao Paulo', lat: -23.5505, lon: -46.6333, tz: -3, currency: 'BRL', perUsd: 5.5, decimals: 2, price: 0.5, weight: 2 },
  { name: 'Tokyo', lat: 35.6762, lon: 139.6503, tz: 9, currency: 'JPY', perUsd: 150, decimals: 0, price: 0.9, weight: 3 },
  { name: 'Singapore', lat: 1.3521, lon: 103.8198, tz: 8, currency: 'SGD', perUsd: 1.35, decimals: 2, price: 1.1, weight: 2 },
  { name: 'Sydney', lat: -33.8688, lon: 151.2093, tz: 10, currency: 'AUD', perUsd: 1.52, decimals: 2, price: 1.1, weight: 2 },
  { name: 'Mumbai', lat: 19.076, lon: 72.8777, tz: 5.5, currency: 'INR', perUsd: 83, decimals: 2, price: 0.3, weight: 2 },
  { name: 'Dubai', lat: 25.2048, lon: 55.2708, tz: 4, currency: 'AED', perUsd: 3.67, decimals: 2, price: 1, weight: 1 },
  { name: 'Cape Town', lat: -33.9249, lon: 18.4241, tz: 2, currency: 'ZAR', perUsd: 18.5, decimals: 2, price: 0.5, weight: 1 },
];

/** Per category: purchases per week of a customer who uses it, median USD, spread (ln), online share. */
const HABITS: Readonly<Record<Category, { weekly: number; usd: number; sigma: number; online: number; uses: number }>> = {
  grocery: { weekly: 2.5, usd: 45, sigma: 0.6, online: 0.1, uses: 0.97 },
  restaurants: { weekly: 2, usd: 28, sigma: 0.55, online: 0.15, uses: 0.9 },
  gas_transport: { weekly: 1.4, usd: 38, sigma: 0.5, online: 0.05, uses: 0.85 },
  shopping: { weekly: 1, usd: 55, sigma: 0.85, online: 0.5, uses: 0.95 },
  entertainment: { weekly: 0.6, usd: 30, sigma: 0.7, online: 0.55, uses: 0.8 },
  health_fitness: { weekly: 0.35, usd: 40, sigma: 0.6, online: 0.25, uses: 0.6 },
  home: { weekly: 0.3, usd: 70, sigma: 0.9, online: 0.35, uses: 0.7 },
  kids_pets: { weekly: 0.5, usd: 40, sigma: 0.6, online: 0.3, uses: 0.4 },
  personal_care: { weekly: 0.4, usd: 35, sigma: 0.5, online: 0.15, uses: 0.75 },
  travel: { weekly: 0.1, usd: 250, sigma: 0.9, online: 0.8, uses: 0.55 },
  misc: { weekly: 0.4, usd: 20, sigma: 0.9, online: 0.45, uses: 0.85 },
};

/** Relative transaction volume per UTC hour (most customers live in Europe): quiet nights, busy evenings. */
const HOURLY = [0.35, 0.25, 0.2, 0.2, 0.25, 0.4, 0.7, 1.1, 1.5, 1.7, 1.9, 2.1, 2.4, 2.3, 2.1, 2.1, 2.2, 2.5, 2.6, 2.4, 2.0, 1.5, 1.0, 0.6];

const MISC = CATEGORIES.indexOf('misc');
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MAX_AMOUNT = 999_999;

/** A 32-bit integer hash (splitmix-style finaliser): a stateless PRNG keyed by seed, index and salt. */
function hash32(seed: number, i: number, salt: number): number {
  let x = (Math.imul((i ^ salt) | 0, 0x9e3779b1) + Math.imul(seed | 0, 0x85ebca77) + (Math.floor(i / 4_294_967_296) | 0)) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Uniform in [0, 1). */
function uniform(seed: number, i: number, salt: number): number {
  return hash32(seed, i, salt) / 4_294_967_296;
}

/** Standard normal (Box-Muller on two hashed uniforms). */
function normal(seed: number, i: number, salt: number): number {
  const u = Math.max(uniform(seed, i, salt), 1e-12);
  const v = uniform(seed, i, salt + 0x3c6ef372);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Index of the first cumulative weight above `r * total` (binary search). */
function pickCumulative(cumulative: Float64Array, r: number): number {
  const target = r * cumulative[cumulative.length - 1];
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function cumulativeOf(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => (out[i] = sum += w));
  return out;
}

const CITY_CUMULATIVE = cumulativeOf(CITIES.map((c) => c.weight));
const HOURLY_CUMULATIVE = cumulativeOf(HOURLY);

interface Customer {
  id: string;
  city: City;
  home: { lat: number; lon: number };
  homeGiven: boolean;
  offsetStamps: boolean;
  income: number;
  online: number;
  /** Cumulative weights over CATEGORIES of this customer's purchases. */
  categories: Float64Array;
  /** Median USD per category for this customer. */
  usd: number[];
}

export interface TransactionStreamOptions {
  /** Distinct customers. */
  users: number;
  seed: number;
  /** Mean transactions per customer per day of event time (sets the global clock's pace). */
  perUserPerDay?: number;
  /**
   * `weighted` (default): each transaction's customer drawn by activity (a few heavy users, many
   * light ones), so a customer may appear twice close together. `round-robin`: customer k mod users,
   * so consecutive transactions never share a customer.
   */
  userOrder?: 'weighted' | 'round-robin';
  /** Event time of transaction 0 is the UTC midnight this many days before `now` (730). */
  daysBack?: number;
  /** Clock for the newest allowed event time (tests); default Date.now(). */
  now?: number;
}

function round(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}

function jitter(seed: number, i: number, salt: number, p: { lat: number; lon: number }, km: number): { lat: number; lon: number } {
  const lat = p.lat + (normal(seed, i, salt) * km) / 111;
  const lon = p.lon + (normal(seed, i, salt + 7) * km) / (111 * Math.cos((p.lat * Math.PI) / 180));
  return { lat: round(Math.max(-90, Math.min(90, lat)), 4), lon: round(((((lon + 180) % 360) + 360) % 360) - 180, 4) };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** ISO 8601 in whole seconds, either UTC (`Z`) or local time with the offset of `tz` hours. */
function isoAt(ts: number, tz: number | undefined): string {
  if (tz === undefined) return new Date(ts).toISOString().slice(0, 19) + 'Z';
  const d = new Date(ts + tz * HOUR_MS);
  const abs = Math.abs(tz);
  const offset = `${tz < 0 ? '-' : '+'}${pad(Math.floor(abs))}:${pad(Math.round((abs % 1) * 60))}`;
  return `${d.toISOString().slice(0, 19)}${offset}`;
}

export class TransactionStream {
  readonly users: number;
  readonly seed: number;
  readonly userOrder: 'weighted' | 'round-robin';
  /** Event time of transaction 0 (epoch ms). */
  readonly startMs: number;
  /** Transactions per day of event time, all customers together. */
  readonly perDay: number;
  /** Transactions available before event times would pass `now`. */
  readonly capacity: number;
  private readonly customers: (Customer | undefined)[];
  private readonly activity: Float64Array;

  constructor(options: TransactionStreamOptions) {
    const { users, seed } = options;
    if (!Number.isSafeInteger(users) || users < 1) throw new RangeError(`users must be a positive integer (got ${users})`);
    this.users = users;
    this.seed = seed;
    this.userOrder = options.userOrder ?? 'weighted';
    const now = options.now ?? Date.now();
    this.startMs = Math.floor(now / DAY_MS) * DAY_MS - (options.daysBack ?? 730) * DAY_MS;
    this.perDay = Math.max(24, Math.round(users * (options.perUserPerDay ?? 1.5)));
    this.capacity = Math.floor(((now - this.startMs) / DAY_MS - 1) * this.perDay);
    this.customers = new Array<Customer | undefined>(users);
    // Activity: log-normal, so 10% of the customers make about a third of the transactions.
    this.activity = cumulativeOf(Array.from({ length: users }, (_, u) => Math.exp(0.8 * normal(seed, u, 0x0ac7))));
  }

  /** The customer of transaction k. */
  userOf(k: number): number {
    return this.userOrder === 'round-robin' ? k % this.users : pickCumulative(this.activity, uniform(this.seed, k, 0x05e7));
  }

  /** Event time of transaction k (epoch ms, whole seconds): non-decreasing in k, with a daily rhythm. */
  timeOf(k: number): number {
    const day = Math.floor(k / this.perDay);
    const r = ((k % this.perDay) + 0.5) / this.perDay;
    // Inverse of the piecewise-constant hourly density.
    const total = HOURLY_CUMULATIVE[23];
    const hour = pickCumulative(HOURLY_CUMULATIVE, r);
    const before = hour === 0 ? 0 : HOURLY_CUMULATIVE[hour - 1];
    const within = (r * total - before) / HOURLY[hour];
    const ms = this.startMs + day * DAY_MS + (hour + Math.min(0.9999, Math.max(0, within))) * HOUR_MS;
    return Math.floor(ms / 1000) * 1000;
  }

  private customer(u: number): Customer {
    const known = this.customers[u];
    if (known) return known;
    const s = this.seed;
    const city = CITIES[pickCumulative(CITY_CUMULATIVE, uniform(s, u, 0xc17e))];
    const income = Math.exp(0.45 * normal(s, u, 0x1c0e));
    const onlineAffinity = Math.exp(0.4 * normal(s, u, 0x0a1f));
    const weights: number[] = [];
    const usd: number[] = [];
    CATEGORIES.forEach((cat, i) => {
      const h = HABITS[cat];
      const uses = uniform(s, u, 0x100 + i) < h.uses;
      weights.push(uses ? h.weekly * Math.exp(0.5 * normal(s, u, 0x200 + i)) : 0.004);
      usd.push(h.usd * income * city.price * Math.exp(0.25 * normal(s, u, 0x300 + i)));
    });
    const c: Customer = {
      id: `cust-${String(u).padStart(6, '0')}`,
      city,
      home: jitter(s, u, 0x40e, city, 8),
      homeGiven: uniform(s, u, 0x6e0) < 0.6,
      offsetStamps: uniform(s, u, 0x0ff5) < 0.5,
      income,
      online: Math.min(0.9, 0.3 * onlineAffinity),
      categories: cumulativeOf(weights),
      usd,
    };
    this.customers[u] = c;
    return c;
  }

  /** Transaction k (0 <= k < capacity). */
  at(k: number): BenchTransaction {
    if (!Number.isSafeInteger(k) || k < 0 || k >= this.capacity) {
      throw new RangeError(`transaction ${k} out of range: this stream holds ${this.capacity} before its event times pass now`);
    }
    const s = this.seed;
    const c = this.customer(this.userOf(k));
    const ts = this.timeOf(k);
    const r = uniform(s, k, 0xc4a);
    // Cash withdrawals (4%) are `misc`; otherwise the customer's category mix decides.
    const catIndex = r < 0.04 ? MISC : pickCumulative(c.categories, uniform(s, k, 0xca7));
    const category: Category = CATEGORIES[catIndex];
    const habit = HABITS[category];
    const channel: Channel = r < 0.04 ? 'atm' : uniform(s, k, 0xc4b) < habit.online * c.online * 2 ? 'online' : 'in_store';

    // Where the card is used: mostly near home; now and then in another city (a trip).
    const away = channel !== 'online' && uniform(s, k, 0xa3a) < 0.03;
    const city = away ? CITIES[pickCumulative(CITY_CUMULATIVE, uniform(s, k, 0xa3b))] : c.city;
    let usd = c.usd[catIndex] * Math.exp(habit.sigma * normal(s, k, 0xa30));
    // Now and then a legitimate outlier: a sofa, a laptop, a holiday.
    if (uniform(s, k, 0x0b1) < 0.005) usd *= 5 + 10 * uniform(s, k, 0x0b2);
    if (channel === 'online' && uniform(s, k, 0x0b3) < 0.03) usd = 0.99 + Math.floor(uniform(s, k, 0x0b4) * 5);
    if (away) usd *= city.price / c.city.price;

    const currency = channel === 'online' ? (uniform(s, k, 0xcc1) < 0.05 ? 'USD' : c.city.currency) : city.currency;
    const fx = channel === 'online' && currency === 'USD' ? { perUsd: 1, decimals: 2 as const } : channel === 'online' ? c.city : city;
    let amount: number;
    if (channel === 'atm') {
      const step = fx.decimals === 0 ? 1000 : 20;
      amount = Math.max(1, Math.round((usd * 2 * fx.perUsd) / step)) * step;
    } else {
      amount = Math.max(fx.decimals === 0 ? 1 : 0.01, round(usd * fx.perUsd, fx.decimals));
    }
    amount = Math.min(MAX_AMOUNT, amount);

    const tx: BenchTransaction = {
      transaction_id: `tx_${hash32(s, k, 0x1d).toString(16).padStart(8, '0')}${k.toString(16).padStart(8, '0')}`,
      user_id: c.id,
      amount,
      currency,
      timestamp: isoAt(ts, c.offsetStamps ? (channel === 'online' ? c.city.tz : city.tz) : undefined),
      merchant_category: category,
      channel,
    };
    if (channel !== 'online') {
      if (uniform(s, k, 0x10c) < 0.92) tx.merchant_location = away ? jitter(s, k, 0x10d, city, 8) : jitter(s, k, 0x10d, c.home, uniform(s, k, 0x10e) < 0.05 ? 60 : 5);
    } else if (uniform(s, k, 0x10f) < 0.2) {
      const somewhere = CITIES[pickCumulative(CITY_CUMULATIVE, uniform(s, k, 0x110))];
      tx.merchant_location = jitter(s, k, 0x111, somewhere, 10);
    }
    if (c.homeGiven) tx.home_location = c.home;
    return tx;
  }
}

/**
 * A cursor over a stream: each `next()` is the following transaction. One cursor per server
 * instance, so every instance receives the same sequence from its first request on.
 */
export class TransactionCursor {
  private index = 0;

  constructor(private readonly stream: TransactionStream) {}

  next(): BenchTransaction {
    return this.stream.at(this.index++);
  }

  /** How many transactions were handed out so far. */
  get used(): number {
    return this.index;
  }
}
