import { isValidationFailedError, type ValidationFailedError } from '@ml/errors';
import { TransactionBatchDto, TransactionDto, decimalPlaces, transactionRuleProblems } from './transaction.dto';
import { validateBody } from './validation';

const good = {
  transaction_id: 'tx-1',
  user_id: 'u-1',
  amount: 12.5,
  currency: 'GBP',
  timestamp: '2026-11-27T09:30:00Z',
  merchant_category: 'grocery',
  channel: 'in_store',
  merchant_location: { lat: 51.5, lon: -0.12 },
};

const fields = (dto: new () => object, body: unknown) => {
  try {
    validateBody(dto, body);
    return [];
  } catch (e) {
    if (isValidationFailedError(e)) return (e.errors ?? []).map((x) => x.field);
    throw e;
  }
};

describe('TransactionDto', () => {
  it('accepts a valid transaction, with or without locations', () => {
    expect(validateBody(TransactionDto, good).amount).toBe(12.5);
    const { merchant_location: _m, ...bare } = good;
    expect(fields(TransactionDto, bare)).toEqual([]);
    expect(fields(TransactionDto, { ...good, timestamp: '2026-11-27T09:30:00.123+01:00' })).toEqual([]);
  });

  it.each([
    ['amount', { amount: 0 }],
    ['amount', { amount: -5 }],
    ['amount', { amount: '12' }],
    ['amount', { amount: null }],
    ['currency', { currency: 'pounds' }],
    ['currency', { currency: 'gbp' }],
    ['timestamp', { timestamp: 'yesterday' }],
    ['timestamp', { timestamp: '2026-11-27' }],
    ['timestamp', { timestamp: '2026-11-27T09:30:00' }],
    ['merchant_category', { merchant_category: 'casino' }],
    ['channel', { channel: 'phone' }],
    ['transaction_id', { transaction_id: '' }],
    ['user_id', { user_id: 7 }],
    ['merchant_location.lat', { merchant_location: { lat: 91, lon: 0 } }],
    ['merchant_location.lon', { merchant_location: { lat: 0, lon: -181 } }],
    ['home_location', { home_location: 'London' }],
    ['extra', { extra: 1 }],
  ])('names %s', (field, patch) => {
    expect(fields(TransactionDto, { ...good, ...patch })).toContain(field);
  });

  it('names a missing id', () => {
    const { transaction_id: _t, ...rest } = good;
    expect(fields(TransactionDto, rest)).toContain('transaction_id');
  });
});

describe('TransactionBatchDto', () => {
  it('rejects the whole batch naming each bad index and field', () => {
    expect(fields(TransactionBatchDto, { transactions: [good, { ...good, amount: -1 }, good, { ...good, channel: 'x', currency: 'x' }] })).toEqual([
      'transactions[1].amount',
      'transactions[3].channel',
      'transactions[3].currency',
    ]);
    expect(fields(TransactionBatchDto, { transactions: [] })).toEqual(['transactions']);
  });

  it('refuses items that are not transaction objects (an array of transactions included), by index', () => {
    expect(fields(TransactionBatchDto, { transactions: [[good]] })).toEqual(['transactions[0]']);
    expect(fields(TransactionBatchDto, { transactions: [good, null, 'x', [good]] })).toEqual(['transactions[1]', 'transactions[1]', 'transactions[2]', 'transactions[2]', 'transactions[3]']);
  });
});

describe('transactionRuleProblems', () => {
  const rules = { maxAmount: 1000, maxFutureMs: 24 * 3600 * 1000 };
  const now = Date.parse('2026-11-27T10:00:00Z');
  it('checks the configured maximum amount and future margin', () => {
    const tx = validateBody(TransactionDto, good);
    expect(transactionRuleProblems(tx, rules, now)).toEqual([]);
    expect(transactionRuleProblems({ ...tx, amount: 1000.5 }, rules, now)).toEqual([{ field: 'amount', message: 'must be at most 1000' }]);
    expect(transactionRuleProblems({ ...tx, timestamp: '2026-11-29T10:00:00Z' }, rules, now)[0].field).toBe('timestamp');
    expect(transactionRuleProblems({ ...tx, timestamp: '2026-11-28T09:00:00Z' }, rules, now)).toEqual([]);
  });
});

describe('amounts in exponent notation', () => {
  it('counts decimal places the way JavaScript writes the number', () => {
    expect([1, 42.5, 0.0001, 1e-7, 5e-324, 1.5e21, 123.4567, 1e21].map(decimalPlaces)).toEqual([0, 1, 4, 7, 324, 0, 4, 0]);
  });

  it('refuses 1e-7 and 5e-324 with a 422 naming amount, never a TypeError', () => {
    for (const amount of [1e-7, 5e-324, 0.00001]) {
      const body = { transaction_id: 't', user_id: 'u', amount, currency: 'GBP', timestamp: '2026-01-01T10:00:00Z', merchant_category: 'grocery', channel: 'online' };
      let error: unknown;
      try {
        validateBody(TransactionDto, body);
      } catch (e) {
        error = e;
      }
      expect(isValidationFailedError(error)).toBe(true);
      expect((error as ValidationFailedError).errors?.map((e) => e.field)).toContain('amount');
    }
  });
});
