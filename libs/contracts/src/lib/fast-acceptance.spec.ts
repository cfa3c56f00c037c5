import { IsInt, IsOptional, ValidateNested } from 'class-validator';
import { acceptanceCheck } from './fast-acceptance';
import { IntentBatchDto, IntentQueryDto } from './intent.dto';
import { GeoPointDto, TransactionBatchDto, TransactionDto } from './transaction.dto';
import { generalProblems } from './validation';

/** What class-transformer + class-validator say (validateBody's general path). */
const generalAccepts = (dto: new () => object, body: Record<string, unknown>) => generalProblems(dto, body).length === 0;

/** A small seeded generator (mulberry32): the same bodies on every run. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  return { next, pick };
}

// Values near and across every rule's edges, plus the wrong types.
const STRINGS = ['', ' ', 'a', 'tx-1', 'x'.repeat(128), 'x'.repeat(129), 'GBP', 'gbp', 'EURO', 'USD', 'grocery', 'atm', 'online', 'in_store', 'Grocery', '  hello  ', '\t\n', 'x'.repeat(1000), ` ${'y'.repeat(1000)} `, 'y'.repeat(1001)];
const TIMES = [
  '2026-11-27T09:30:00Z',
  '2026-11-27T09:30:00.123+01:00',
  '2026-11-27T09:30:00+0100',
  '2026-11-27T09:30Z',
  '2026-11-27T09:30:00',
  '2026-11-27 09:30:00Z',
  '2026-02-30T09:30:00Z',
  '2026-11-27',
  '2026-13-01T00:00:00Z',
  '2026-11-27T24:00:00Z',
  'yesterday',
];
const NUMBERS = [0, -1, 0.0001, 0.00001, 1, 12.5, 12.34567, 1e6, 1e7, -90, 90, 90.5, -180, 180, 181, 51.5, Number.NaN, Infinity, -Infinity, 3];
// JSON has no undefined: a parsed body never holds it.
const OTHER: unknown[] = [null, true, false, [], {}, [1], ['a'], { lat: 1, lon: 2 }, { lat: 91, lon: 0 }, { lat: 1 }, { lat: 1, lon: 2, x: 1 }, [{ lat: 1, lon: 2 }]];

/** Bodies arrive parsed from JSON: a round trip gives exactly such values. */
const json = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function anyValue(r: ReturnType<typeof random>): unknown {
  const kind = r.next();
  if (kind < 0.3) return r.pick(STRINGS);
  if (kind < 0.5) return r.pick(TIMES);
  if (kind < 0.8) return r.pick(NUMBERS);
  return json(r.pick(OTHER));
}

const validTransaction = (r: ReturnType<typeof random>, i: number): Record<string, unknown> => ({
  transaction_id: `tx-${i}`,
  user_id: `u-${i % 7}`,
  amount: r.pick([0.01, 1, 12.5, 999.99, 1e6]),
  currency: r.pick(['GBP', 'EUR', 'USD', 'JPY']),
  timestamp: r.pick(TIMES.slice(0, 4)),
  merchant_category: r.pick(['grocery', 'travel', 'misc']),
  channel: r.pick(['online', 'in_store', 'atm']),
  ...(r.next() < 0.6 ? { merchant_location: { lat: r.next() * 180 - 90, lon: r.next() * 360 - 180 } } : {}),
  ...(r.next() < 0.3 ? { home_location: { lat: 51.5, lon: -0.12 } } : {}),
});

/** Replaces, deletes or adds one field somewhere in `body` (nested objects and array items too). */
function mutate(r: ReturnType<typeof random>, body: unknown, depth = 0): void {
  if (body === null || typeof body !== 'object') return;
  const keys = Object.keys(body);
  const holder = body as Record<string, unknown>;
  const key = keys.length ? r.pick(keys) : undefined;
  const roll = r.next();
  if (key !== undefined && roll < 0.35 && depth < 3 && holder[key] !== null && typeof holder[key] === 'object') return mutate(r, holder[key], depth + 1);
  if (key !== undefined && roll < 0.7) holder[key] = anyValue(r);
  else if (key !== undefined && roll < 0.85) {
    if (Array.isArray(body)) body.splice(Number(key), 1);
    else delete holder[key];
  }
  else if (Array.isArray(body)) body.push(anyValue(r));
  else holder[r.pick(['extra', 'constructor', 'lat', 'query', 'amount', '0'])] = anyValue(r);
}

function bodyFor(dto: unknown, r: ReturnType<typeof random>, i: number): Record<string, unknown> {
  switch (dto) {
    case TransactionDto:
      return validTransaction(r, i);
    case TransactionBatchDto:
      return { transactions: Array.from({ length: 1 + Math.floor(r.next() * 4) }, (_, k) => validTransaction(r, i * 10 + k)) };
    case IntentQueryDto:
      return { query: r.pick(STRINGS.filter((s) => s.trim())) };
    case IntentBatchDto:
      return { queries: Array.from({ length: 1 + Math.floor(r.next() * 4) }, () => r.pick(STRINGS)) };
    default:
      return { lat: r.next() * 180 - 90, lon: r.next() * 360 - 180 };
  }
}

describe('acceptanceCheck', () => {
  it.each([TransactionDto, TransactionBatchDto, IntentQueryDto, IntentBatchDto, GeoPointDto])('%p agrees with class-validator on 6,000 generated bodies', (dto) => {
    const check = acceptanceCheck(dto);
    expect(check).toBeDefined();
    const r = random(0x5eed ^ dto.name.length);
    let accepted = 0;
    for (let i = 0; i < 6000; i++) {
      const generated = bodyFor(dto, r, i);
      const mutations = i % 3 === 0 ? 0 : 1 + Math.floor(r.next() * 3);
      for (let m = 0; m < mutations; m++) mutate(r, generated);
      const body = json(generated); // NaN and Infinity become null, as on the wire
      const expected = generalAccepts(dto as new () => object, json(body));
      const got = (check as NonNullable<typeof check>)(body);
      if (got !== expected) throw new Error(`${dto.name}: fast ${got}, class-validator ${expected} for ${JSON.stringify(body)}`);
      if (got) accepted++;
    }
    // Both outcomes are well represented, or the comparison would prove little.
    expect(accepted).toBeGreaterThan(600);
    expect(accepted).toBeLessThan(5400);
  });

  it('batches past their size limits are left to class-validator, and agree', () => {
    const r = random(7);
    const check = acceptanceCheck(IntentBatchDto) as NonNullable<ReturnType<typeof acceptanceCheck>>;
    for (const n of [0, 1, 256, 257]) {
      const body = { queries: Array.from({ length: n }, () => 'where is my card') };
      expect(check(body)).toBe(n >= 1 && n <= 256);
      expect(generalAccepts(IntentBatchDto, body)).toBe(n >= 1 && n <= 256);
    }
    const batch = { transactions: Array.from({ length: 257 }, (_, i) => validTransaction(r, i)) };
    expect((acceptanceCheck(TransactionBatchDto) as NonNullable<ReturnType<typeof acceptanceCheck>>)(batch)).toBe(false);
  });

  it('does not compile what it does not cover: a nested property without @Type, groups', () => {
    class Untyped {
      @ValidateNested()
      inner!: object;
    }
    class Grouped {
      @IsInt({ groups: ['admin'] })
      n!: number;
    }
    class Plain {
      x!: number;
    }
    expect(acceptanceCheck(Untyped)).toBeUndefined();
    expect(acceptanceCheck(Grouped)).toBeUndefined();
    expect(acceptanceCheck(Plain)).toBeUndefined(); // no rules at all: forbidUnknownValues
    class Optional {
      @IsOptional()
      @IsInt()
      n?: number;
    }
    const check = acceptanceCheck(Optional) as NonNullable<ReturnType<typeof acceptanceCheck>>;
    expect([check({}), check({ n: null }), check({ n: 2 }), check({ n: 2.5 }), check({ m: 1 })]).toEqual([true, true, true, false, false]);
  });
});
