export const MERCHANT_CATEGORIES = [
  'grocery',
  'restaurants',
  'gas_transport',
  'shopping',
  'entertainment',
  'health_fitness',
  'home',
  'kids_pets',
  'personal_care',
  'travel',
  'misc',
] as const;

export type MerchantCategory = (typeof MERCHANT_CATEGORIES)[number];

export const CHANNELS = ['online', 'in_store', 'atm'] as const;

export type Channel = (typeof CHANNELS)[number];

/** WGS84 coordinates in decimal degrees. */
export interface GeoPoint {
  readonly lat: number;
  readonly lon: number;
}

/**
 * A card transaction as the detector receives it (the gateway's transaction contract).
 * `timestamp` is ISO 8601; a numeric offset (`+09:00`) is read as the local time of the
 * purchase, `Z` or no offset as UTC.
 */
export interface TransactionInput {
  readonly transaction_id: string;
  readonly user_id: string;
  readonly amount: number;
  readonly currency: string;
  readonly timestamp: string;
  readonly merchant_category: MerchantCategory;
  readonly channel: Channel;
  readonly merchant_location?: GeoPoint;
  readonly home_location?: GeoPoint;
}
