import type { Channel, MerchantCategory } from '@ml/contracts';

// The contract owns the category and channel lists; feature codes are their indices, so there is
// exactly one list to keep in order.
export { CHANNELS, MERCHANT_CATEGORIES, type Channel, type MerchantCategory } from '@ml/contracts';

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
