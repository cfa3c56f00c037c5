import { FeatureInputError } from './features.errors';
import {
  CHANNELS,
  MERCHANT_CATEGORIES,
  type Channel,
  type GeoPoint,
  type MerchantCategory,
  type TransactionInput,
} from './features.types';
import { toUsd } from './fx.rates';

/** A validated transaction in the units the feature code works in. */
export interface NormalizedTx {
  readonly id: string;
  /** Event time, epoch milliseconds. */
  readonly ts: number;
  readonly amount: number;
  readonly usd: number;
  readonly currency: string;
  readonly category: MerchantCategory;
  readonly categoryIndex: number;
  readonly channel: Channel;
  /** Merchant location when the card was present (in-store or ATM); online locations say nothing about the cardholder. */
  readonly presentAt: GeoPoint | undefined;
  readonly home: GeoPoint | undefined;
  /** Offset written in the timestamp (hours), when it had a numeric one. */
  readonly offsetHours: number | undefined;
}

const ISO_8601 =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

export function parseTimestamp(value: string): {
  ts: number;
  offsetHours: number | undefined;
} {
  const m = typeof value === 'string' ? ISO_8601.exec(value.trim()) : null;
  if (!m) throw new FeatureInputError('timestamp', 'not an ISO 8601 date-time');
  const zone = m[2];
  let offsetHours: number | undefined;
  let suffix = 'Z';
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const hh = Number(digits.slice(0, 2));
    const mm = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (hh > 18 || mm > 59)
      throw new FeatureInputError('timestamp', 'offset out of range');
    offsetHours = sign * (hh + mm / 60);
    suffix = `${zone[0]}${digits.slice(0, 2)}:${digits.length > 2 ? digits.slice(2, 4) : '00'}`;
  }
  // Without an explicit zone Date.parse would use the process's local zone: always pin one.
  const ts = Date.parse(`${m[1]}${suffix}`);
  if (!Number.isFinite(ts))
    throw new FeatureInputError('timestamp', 'not a valid date-time');
  return { ts, offsetHours };
}

function checkPoint(
  p: GeoPoint | undefined,
  field: string,
): GeoPoint | undefined {
  if (p === undefined || p === null) return undefined;
  const { lat, lon } = p;
  if (!Number.isFinite(lat) || lat < -90 || lat > 90) {
    throw new FeatureInputError(
      `${field}.lat`,
      'must be a number in [-90, 90]',
    );
  }
  if (!Number.isFinite(lon) || lon < -180 || lon > 180) {
    throw new FeatureInputError(
      `${field}.lon`,
      'must be a number in [-180, 180]',
    );
  }
  return { lat, lon };
}

export function normalizeTransaction(tx: TransactionInput): NormalizedTx {
  if (typeof tx.transaction_id !== 'string' || tx.transaction_id.length === 0) {
    throw new FeatureInputError('transaction_id', 'must be a non-empty string');
  }
  if (
    typeof tx.amount !== 'number' ||
    !Number.isFinite(tx.amount) ||
    tx.amount <= 0
  ) {
    throw new FeatureInputError('amount', 'must be a finite number > 0');
  }
  if (typeof tx.currency !== 'string' || !/^[A-Za-z]{3}$/.test(tx.currency)) {
    throw new FeatureInputError('currency', 'must be an ISO 4217 code');
  }
  const categoryIndex = MERCHANT_CATEGORIES.indexOf(tx.merchant_category);
  if (categoryIndex < 0)
    throw new FeatureInputError('merchant_category', 'unknown category');
  if (!CHANNELS.includes(tx.channel))
    throw new FeatureInputError('channel', 'unknown channel');
  const { ts, offsetHours } = parseTimestamp(tx.timestamp);
  const merchant = checkPoint(tx.merchant_location, 'merchant_location');
  const currency = tx.currency.toUpperCase();
  return {
    id: tx.transaction_id,
    ts,
    amount: tx.amount,
    usd: toUsd(tx.amount, currency),
    currency,
    category: tx.merchant_category,
    categoryIndex,
    channel: tx.channel,
    presentAt: tx.channel === 'online' ? undefined : merchant,
    home: checkPoint(tx.home_location, 'home_location'),
    offsetHours,
  };
}

/**
 * Local hour of day (fractional). An explicit offset in the timestamp wins; otherwise solar time
 * at the place the card was used, else at the customer's home, else UTC.
 */
export function localHour(
  tx: NormalizedTx,
  profileHome: GeoPoint | undefined,
): number {
  let offset = tx.offsetHours;
  if (offset === undefined) {
    const place = tx.presentAt ?? tx.home ?? profileHome;
    offset = place ? place.lon / 15 : 0;
  }
  const hours = tx.ts / 3_600_000 + offset;
  return ((hours % 24) + 24) % 24;
}
