/**
 * Approximate US dollars per unit of each currency. Features only need amounts on one scale
 * (a 10,000 JPY lunch must not look like a 10,000 USD one), so order-of-magnitude accuracy is
 * enough and the table is part of FEATURE_VERSION: changing it changes the features.
 * A currency missing from the table is taken at 1 USD per unit.
 */
export const FX_TO_USD: Readonly<Record<string, number>> = Object.freeze({
  USD: 1,
  EUR: 1.08,
  GBP: 1.27,
  CHF: 1.13,
  JPY: 0.0067,
  CAD: 0.73,
  AUD: 0.66,
  NZD: 0.6,
  CNY: 0.14,
  HKD: 0.128,
  SGD: 0.74,
  TWD: 0.031,
  KRW: 0.00073,
  INR: 0.012,
  PKR: 0.0036,
  THB: 0.028,
  MYR: 0.22,
  IDR: 0.000063,
  PHP: 0.017,
  VND: 0.00004,
  AED: 0.272,
  SAR: 0.267,
  ILS: 0.27,
  TRY: 0.03,
  EGP: 0.02,
  ZAR: 0.054,
  NGN: 0.00065,
  KES: 0.0077,
  BRL: 0.18,
  MXN: 0.055,
  ARS: 0.001,
  CLP: 0.00105,
  COP: 0.00025,
  PEN: 0.27,
  SEK: 0.095,
  NOK: 0.093,
  DKK: 0.145,
  ISK: 0.0072,
  PLN: 0.25,
  CZK: 0.043,
  HUF: 0.0027,
  RON: 0.22,
  BGN: 0.55,
});

export function toUsd(amount: number, currency: string): number {
  return amount * (FX_TO_USD[currency.toUpperCase()] ?? 1);
}

export function fromUsd(usd: number, currency: string): number {
  return usd / (FX_TO_USD[currency.toUpperCase()] ?? 1);
}
