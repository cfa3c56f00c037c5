export interface Country {
  readonly code: string;
  readonly currency: string;
  /** Local prices relative to the US (1 = US prices in USD). */
  readonly priceLevel: number;
  /** Currency units per USD, used to write amounts in the local currency. */
  readonly perUsd: number;
  /** Smallest banknote step an ATM pays out in, in local units. */
  readonly cashStep: number;
  readonly decimals: 0 | 2;
}

export interface City {
  readonly name: string;
  readonly country: string;
  readonly lat: number;
  readonly lon: number;
  /** Standard-time UTC offset in hours (the simulator ignores daylight saving). */
  readonly tz: number;
}

export const COUNTRIES: Readonly<Record<string, Country>> = {
  US: {
    code: 'US',
    currency: 'USD',
    priceLevel: 1,
    perUsd: 1,
    cashStep: 20,
    decimals: 2,
  },
  CA: {
    code: 'CA',
    currency: 'CAD',
    priceLevel: 0.9,
    perUsd: 1.37,
    cashStep: 20,
    decimals: 2,
  },
  GB: {
    code: 'GB',
    currency: 'GBP',
    priceLevel: 0.95,
    perUsd: 0.79,
    cashStep: 10,
    decimals: 2,
  },
  DE: {
    code: 'DE',
    currency: 'EUR',
    priceLevel: 0.9,
    perUsd: 0.93,
    cashStep: 10,
    decimals: 2,
  },
  FR: {
    code: 'FR',
    currency: 'EUR',
    priceLevel: 0.9,
    perUsd: 0.93,
    cashStep: 10,
    decimals: 2,
  },
  ES: {
    code: 'ES',
    currency: 'EUR',
    priceLevel: 0.75,
    perUsd: 0.93,
    cashStep: 10,
    decimals: 2,
  },
  IT: {
    code: 'IT',
    currency: 'EUR',
    priceLevel: 0.8,
    perUsd: 0.93,
    cashStep: 10,
    decimals: 2,
  },
  NL: {
    code: 'NL',
    currency: 'EUR',
    priceLevel: 0.95,
    perUsd: 0.93,
    cashStep: 10,
    decimals: 2,
  },
  JP: {
    code: 'JP',
    currency: 'JPY',
    priceLevel: 0.8,
    perUsd: 150,
    cashStep: 1000,
    decimals: 0,
  },
  AU: {
    code: 'AU',
    currency: 'AUD',
    priceLevel: 0.95,
    perUsd: 1.52,
    cashStep: 20,
    decimals: 2,
  },
  BR: {
    code: 'BR',
    currency: 'BRL',
    priceLevel: 0.45,
    perUsd: 5.5,
    cashStep: 20,
    decimals: 2,
  },
  MX: {
    code: 'MX',
    currency: 'MXN',
    priceLevel: 0.45,
    perUsd: 18,
    cashStep: 100,
    decimals: 2,
  },
  IN: {
    code: 'IN',
    currency: 'INR',
    priceLevel: 0.25,
    perUsd: 83,
    cashStep: 100,
    decimals: 2,
  },
  SG: {
    code: 'SG',
    currency: 'SGD',
    priceLevel: 0.9,
    perUsd: 1.35,
    cashStep: 10,
    decimals: 2,
  },
  AE: {
    code: 'AE',
    currency: 'AED',
    priceLevel: 0.8,
    perUsd: 3.67,
    cashStep: 50,
    decimals: 2,
  },
  ZA: {
    code: 'ZA',
    currency: 'ZAR',
    priceLevel: 0.4,
    perUsd: 18.5,
    cashStep: 50,
    decimals: 2,
  },
  TH: {
    code: 'TH',
    currency: 'THB',
    priceLevel: 0.35,
    perUsd: 36,
    cashStep: 100,
    decimals: 2,
  },
  TR: {
    code: 'TR',
    currency: 'TRY',
    priceLevel: 0.35,
    perUsd: 33,
    cashStep: 50,
    decimals: 2,
  },
  PH: {
    code: 'PH',
    currency: 'PHP',
    priceLevel: 0.3,
    perUsd: 58,
    cashStep: 100,
    decimals: 2,
  },
};

export const CITIES: readonly City[] = [
  { name: 'New York', country: 'US', lat: 40.71, lon: -74.01, tz: -5 },
  { name: 'Chicago', country: 'US', lat: 41.88, lon: -87.63, tz: -6 },
  { name: 'Los Angeles', country: 'US', lat: 34.05, lon: -118.24, tz: -8 },
  { name: 'Houston', country: 'US', lat: 29.76, lon: -95.37, tz: -6 },
  { name: 'Miami', country: 'US', lat: 25.76, lon: -80.19, tz: -5 },
  { name: 'Seattle', country: 'US', lat: 47.61, lon: -122.33, tz: -8 },
  { name: 'Toronto', country: 'CA', lat: 43.65, lon: -79.38, tz: -5 },
  { name: 'Vancouver', country: 'CA', lat: 49.28, lon: -123.12, tz: -8 },
  { name: 'London', country: 'GB', lat: 51.51, lon: -0.13, tz: 0 },
  { name: 'Manchester', country: 'GB', lat: 53.48, lon: -2.24, tz: 0 },
  { name: 'Berlin', country: 'DE', lat: 52.52, lon: 13.4, tz: 1 },
  { name: 'Munich', country: 'DE', lat: 48.14, lon: 11.58, tz: 1 },
  { name: 'Paris', country: 'FR', lat: 48.86, lon: 2.35, tz: 1 },
  { name: 'Lyon', country: 'FR', lat: 45.76, lon: 4.84, tz: 1 },
  { name: 'Madrid', country: 'ES', lat: 40.42, lon: -3.7, tz: 1 },
  { name: 'Barcelona', country: 'ES', lat: 41.39, lon: 2.17, tz: 1 },
  { name: 'Rome', country: 'IT', lat: 41.9, lon: 12.5, tz: 1 },
  { name: 'Milan', country: 'IT', lat: 45.46, lon: 9.19, tz: 1 },
  { name: 'Amsterdam', country: 'NL', lat: 52.37, lon: 4.9, tz: 1 },
  { name: 'Tokyo', country: 'JP', lat: 35.68, lon: 139.69, tz: 9 },
  { name: 'Osaka', country: 'JP', lat: 34.69, lon: 135.5, tz: 9 },
  { name: 'Sydney', country: 'AU', lat: -33.87, lon: 151.21, tz: 10 },
  { name: 'Melbourne', country: 'AU', lat: -37.81, lon: 144.96, tz: 10 },
  { name: 'Sao Paulo', country: 'BR', lat: -23.55, lon: -46.63, tz: -3 },
  { name: 'Rio de Janeiro', country: 'BR', lat: -22.91, lon: -43.17, tz: -3 },
  { name: 'Mexico City', country: 'MX', lat: 19.43, lon: -99.13, tz: -6 },
  { name: 'Guadalajara', country: 'MX', lat: 20.66, lon: -103.35, tz: -6 },
  { name: 'Mumbai', country: 'IN', lat: 19.08, lon: 72.88, tz: 5.5 },
  { name: 'Delhi', country: 'IN', lat: 28.61, lon: 77.21, tz: 5.5 },
  { name: 'Singapore', country: 'SG', lat: 1.35, lon: 103.82, tz: 8 },
  { name: 'Dubai', country: 'AE', lat: 25.2, lon: 55.27, tz: 4 },
  { name: 'Johannesburg', country: 'ZA', lat: -26.2, lon: 28.05, tz: 2 },
  { name: 'Cape Town', country: 'ZA', lat: -33.92, lon: 18.42, tz: 2 },
  { name: 'Bangkok', country: 'TH', lat: 13.76, lon: 100.5, tz: 7 },
  { name: 'Istanbul', country: 'TR', lat: 41.01, lon: 28.98, tz: 3 },
  { name: 'Manila', country: 'PH', lat: 14.6, lon: 120.98, tz: 8 },
];

export function citiesOf(country: string): City[] {
  return CITIES.filter((c) => c.country === country);
}
