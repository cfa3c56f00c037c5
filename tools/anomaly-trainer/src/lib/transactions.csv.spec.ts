import type { TransactionInput } from '@ml/anomaly-features';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRAINING_CONFIG, SHIFTED_CONFIG } from './sim.config';
import { simulate } from './simulator';
import {
  CSV_COLUMNS,
  CsvReadError,
  byCustomerInTimeOrder,
  readTransactionsCsv,
  timeCut,
  toCsv,
  type LabelledTransaction,
} from './transactions.csv';

let dir: string;
let fileNo = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'anomaly-csv-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(content: string | Buffer): string {
  const path = join(dir, `t${++fileNo}.csv`);
  writeFileSync(path, content);
  return path;
}

const HEADER = CSV_COLUMNS.join(',');
// One valid row in the writer's column order; `row({ amount: 'x' })` swaps fields.
const BASE: Record<(typeof CSV_COLUMNS)[number], string> = {
  transaction_id: 'tx-1',
  user_id: 'u-1',
  amount: '42.5',
  currency: 'GBP',
  timestamp: '2026-03-01T10:00:00Z',
  merchant_category: 'grocery',
  channel: 'in_store',
  merchant_lat: '51.5',
  merchant_lon: '-0.12',
  home_lat: '',
  home_lon: '',
  is_fraud: '0',
};
const row = (over: Partial<typeof BASE> = {}): string =>
  CSV_COLUMNS.map((c) => over[c] ?? BASE[c]).join(',');

const tx = (over: Partial<TransactionInput> = {}): TransactionInput => ({
  transaction_id: 'tx-1',
  user_id: 'u-1',
  amount: 10,
  currency: 'EUR',
  timestamp: '2026-03-01T10:00:00Z',
  merchant_category: 'grocery',
  channel: 'online',
  ...over,
});

describe('toCsv -> readTransactionsCsv', () => {
  it('reads back simulated transactions exactly, with the simulator event times', async () => {
    const sims = [
      ...simulate({ ...TRAINING_CONFIG, days: 20, warmupDays: 5 }, 40),
      ...simulate({ ...SHIFTED_CONFIG, days: 20, warmupDays: 5 }, 40),
    ].flatMap((s) => s.transactions);
    expect(sims.length).toBeGreaterThan(500);
    expect(sims.some((s) => s.fraud)).toBe(true);
    expect(sims.some((s) => /[+-]\d\d:\d\d$/.test(s.tx.timestamp))).toBe(true);

    const { rows, errors, ignoredColumns } = await readTransactionsCsv(
      file(toCsv(sims)),
      { maxErrors: 0 },
    );
    expect(errors).toEqual([]);
    expect(ignoredColumns).toEqual([]);
    expect(rows.map((r) => r.tx)).toEqual(sims.map((s) => s.tx));
    expect(rows.map((r) => r.fraud)).toEqual(sims.map((s) => s.fraud));
    expect(rows.map((r) => r.ts)).toEqual(sims.map((s) => s.ts));
    expect(rows.map((r) => r.line)).toEqual(sims.map((_, i) => i + 2));
  });

  it('quotes what needs quoting and keeps strings as written', async () => {
    const odd = [
      { tx: tx({ transaction_id: 'a,b', user_id: 'say "hi"' }), fraud: true },
      {
        tx: tx({ transaction_id: 'two\nlines', user_id: 'crlf\r\nuser' }),
        fraud: false,
      },
      {
        tx: tx({
          transaction_id: ' spaced ',
          user_id: 'Zoë 東京',
          home_location: { lat: -33.87, lon: 151.21 },
        }),
        fraud: false,
      },
      {
        tx: tx({
          transaction_id: 'tiny',
          amount: 1e-4,
          merchant_location: { lat: 0, lon: -180 },
          channel: 'atm',
        }),
        fraud: true,
      },
    ];
    const text = toCsv(odd);
    expect(text.split('\n')[1]).toBe(
      '"a,b","say ""hi""",10,EUR,2026-03-01T10:00:00Z,grocery,online,,,,,1',
    );
    const { rows, errors } = await readTransactionsCsv(file(text));
    expect(errors).toEqual([]);
    expect(rows.map((r) => r.tx)).toEqual(odd.map((o) => o.tx));
    expect(rows.map((r) => r.fraud)).toEqual([true, false, false, true]);
    // Physical lines: the second record holds two line breaks.
    expect(rows.map((r) => r.line)).toEqual([2, 3, 6, 7]);
  });
});

describe('readTransactionsCsv: format', () => {
  it('handles a BOM, CRLF, any column order, extra columns with quoted commas, quotes and newlines', async () => {
    const text =
      '\uFEFFnote,is_fraud,channel,merchant_category,timestamp,currency,amount,user_id,transaction_id,Region\r\n' +
      '"free, text",1,online,travel,2026-03-01T10:00:00Z,USD,99.99,u1,"t""1""",eu\r\n' +
      '"multi\r\nline\nnote",0,atm,misc,2026-03-01T11:00:00+01:00,EUR,50,u1,t2,eu\r\n' +
      '\r\n' +
      ',FALSE,in_store,home,2026-03-02T09:00:00Z,JPY,1200,"u,2",t3,"x""y"\r\n' +
      'last,true,online,misc,2026-03-03T09:00:00Z,USD,1,u3,t4,'; // no final line end
    const { rows, errors, ignoredColumns } = await readTransactionsCsv(
      file(text),
    );
    expect(errors).toEqual([]);
    expect(ignoredColumns).toEqual(['note', 'Region']);
    expect(
      rows.map((r) => [r.tx.transaction_id, r.tx.user_id, r.fraud, r.line]),
    ).toEqual([
      ['t"1"', 'u1', true, 2],
      ['t2', 'u1', false, 3],
      ['t3', 'u,2', false, 7],
      ['t4', 'u3', true, 8],
    ]);
    expect(rows[1].ts).toBe(Date.parse('2026-03-01T10:00:00Z'));
    expect(rows[0].tx).toEqual({
      transaction_id: 't"1"',
      user_id: 'u1',
      amount: 99.99,
      currency: 'USD',
      timestamp: '2026-03-01T10:00:00Z',
      merchant_category: 'travel',
      channel: 'online',
    });
  });

  it('matches header names trimmed and in any case, and reads lone CR line ends', async () => {
    const header = CSV_COLUMNS.map((c) => ` ${c.toUpperCase()} `).join(',');
    const { rows, errors } = await readTransactionsCsv(
      file(
        `${header}\r${row()}\r${row({ transaction_id: 'tx-2' })}\r${row({ user_id: 'a"b' })}\r${row({ amount: 'x' })}`,
      ),
    );
    expect(errors.map((e) => [e.line, e.field])).toEqual([
      [4, 'user_id'],
      [5, 'amount'],
    ]);
    expect(rows.map((r) => [r.tx.transaction_id, r.line])).toEqual([
      ['tx-1', 2],
      ['tx-2', 3],
    ]);
    expect(rows[0].tx.merchant_location).toEqual({ lat: 51.5, lon: -0.12 });
    expect(rows[0].tx.home_location).toBeUndefined();
  });

  it('refuses a header without the required columns, naming them all at once', async () => {
    const path = file(
      'transaction_id,user_id,currency,timestamp,merchant_category,channel,merchant_lat\nx\n',
    );
    await expect(readTransactionsCsv(path)).rejects.toThrow(CsvReadError);
    await expect(readTransactionsCsv(path)).rejects.toThrow(
      /missing required columns: amount, is_fraud; merchant_lat without merchant_lon/,
    );
    await expect(
      readTransactionsCsv(file(`${HEADER},amount\n`)),
    ).rejects.toThrow(/column named twice: amount/);
    await expect(
      readTransactionsCsv(file(`\n\n${HEADER.replace(',amount', '')}\n`)),
    ).rejects.toThrow(
      /: line 3 \(header\): missing required column: amount \(found /,
    );
    await expect(readTransactionsCsv(file(''))).rejects.toThrow(
      /no header row/,
    );
    await expect(readTransactionsCsv(file('\uFEFF\n\n'))).rejects.toThrow(
      /no header row/,
    );
    await expect(readTransactionsCsv(join(dir, 'missing.csv'))).rejects.toThrow(
      /ENOENT/,
    );
  });

  it('reads a header-only file as no rows', async () => {
    expect(await readTransactionsCsv(file(`${HEADER}\n`))).toEqual({
      rows: [],
      errors: [],
      ignoredColumns: [],
    });
  });

  it('reports malformed quoting and field counts per row and goes on', async () => {
    const text = [
      HEADER,
      row({ transaction_id: 'ab"c' }), // 2
      row({ user_id: '"u"x' }), // 3
      row() + ',extra', // 4
      'tx-9,u-9', // 5
      row({ transaction_id: 'ok' }), // 6
      row({ transaction_id: '"never closed\nat all' }), // 7
    ].join('\n');
    const { rows, errors } = await readTransactionsCsv(file(text));
    expect(rows.map((r) => r.tx.transaction_id)).toEqual(['ok']);
    expect(errors).toEqual([
      {
        line: 2,
        field: 'transaction_id',
        message: expect.stringMatching(/quote inside an unquoted field/),
      },
      { line: 3, field: 'user_id', message: 'text after the closing quote' },
      { line: 4, field: '', message: '13 fields, the header has 12' },
      { line: 5, field: '', message: '2 fields, the header has 12' },
      {
        line: 7,
        field: 'transaction_id',
        message: 'quoted field is not closed before the end of the file',
      },
    ]);
  });
});

describe('readTransactionsCsv: validation', () => {
  it('reports bad rows with their line and column and keeps the good ones', async () => {
    const text = [
      HEADER,
      row({ transaction_id: 'good-1' }), // 2
      row({ merchant_category: 'casino' }), // 3
      row({ amount: '12abc' }), // 4
      row({ transaction_id: '"two\nlines"', timestamp: '' }), // 5-6
      row({ merchant_lon: ' ' }), // 7: a lone merchant_lat
      row({ transaction_id: 'good-2', home_lat: '10', home_lon: '20' }), // 8
    ];
    const { rows, errors } = await readTransactionsCsv(
      file(text.join('\n') + '\n'),
    );
    expect(rows.map((r) => [r.tx.transaction_id, r.line])).toEqual([
      ['good-1', 2],
      ['good-2', 8],
    ]);
    expect(errors).toEqual([
      {
        line: 3,
        field: 'merchant_category',
        message: expect.stringMatching(/^must be one of: grocery, /),
      },
      { line: 4, field: 'amount', message: 'not a number: "12abc"' },
      {
        line: 5,
        field: 'timestamp',
        message: expect.stringMatching(/ISO 8601/),
      },
      {
        line: 7,
        field: 'merchant_lon',
        message: 'is empty but merchant_lat is not (give both or neither)',
      },
    ]);
  });

  it('reports every problem of a row, each under its column', async () => {
    const text = `${HEADER}\n${row({ amount: '', currency: 'pounds', merchant_lat: '91', home_lat: '1', home_lon: 'east', is_fraud: 'yes' })}\n`;
    const { errors } = await readTransactionsCsv(file(text));
    expect(errors.map((e) => [e.line, e.field])).toEqual([
      [2, 'amount'],
      [2, 'home_lon'],
      [2, 'is_fraud'],
      [2, 'currency'],
      [2, 'merchant_lat'],
    ]);
    expect(errors[0].message).toBe('is empty');
    expect(errors[2].message).toBe('must be 0, 1, true or false (got "yes")');
  });

  it('applies the service rules: DTO, amount ceiling, future margin, feature code', async () => {
    const now = Date.parse('2026-06-01T00:00:00Z');
    const cases: Array<[Partial<typeof BASE>, string]> = [
      [{ user_id: '' }, 'user_id'],
      [{ transaction_id: 'x'.repeat(129) }, 'transaction_id'],
      [{ currency: 'gbp' }, 'currency'], // the feature code alone would take it
      [{ timestamp: '2026-03-01T10:00:00' }, 'timestamp'], // no zone: the DTO refuses
      [{ timestamp: '2026-03-01T10:00:00+19:00' }, 'timestamp'], // the feature code refuses
      [{ timestamp: '2026-06-03T00:00:00Z' }, 'timestamp'], // > 24 h ahead of `now`
      [{ amount: '1.00001' }, 'amount'], // more than 4 decimals
      [{ amount: '0' }, 'amount'],
      [{ amount: '-5' }, 'amount'],
      [{ amount: '1000000.01' }, 'amount'], // above the default ceiling
      [{ amount: '0x10' }, 'amount'],
      [{ amount: 'Infinity' }, 'amount'],
      [{ amount: '1e400' }, 'amount'],
      [{ merchant_lon: '-180.5' }, 'merchant_lon'],
      [{ channel: 'phone' }, 'channel'],
      [{ merchant_category: 'Grocery' }, 'merchant_category'],
    ];
    const lines = [
      HEADER,
      ...cases.map(([over]) => row(over)),
      row({ amount: ' 1e3 ', timestamp: '2026-06-01T20:00:00Z' }),
    ];
    const { rows, errors } = await readTransactionsCsv(file(lines.join('\n')), {
      now,
      maxErrors: 100,
    });
    expect(errors.map((e) => [e.line, e.field])).toEqual(
      cases.map(([, field], i) => [i + 2, field]),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].tx.amount).toBe(1000);

    // The configurable rules are options.
    const loose = await readTransactionsCsv(
      file(
        [
          HEADER,
          row({ amount: '2000000', timestamp: '2030-01-01T00:00:00Z' }),
        ].join('\n'),
      ),
      {
        now,
        rules: { maxAmount: 1e7, maxFutureMs: 10 * 365 * 86_400_000 },
      },
    );
    expect(loose.errors).toEqual([]);
    expect(loose.rows).toHaveLength(1);
  });

  it('parses is_fraud as 0/1/true/false in any case', async () => {
    const values = [
      '1',
      '0',
      'TRUE',
      'False',
      ' true ',
      'tRuE',
      'yes',
      '',
      '2',
    ];
    const text = [
      HEADER,
      ...values.map((v, i) => row({ transaction_id: `t${i}`, is_fraud: v })),
    ].join('\n');
    const { rows, errors } = await readTransactionsCsv(file(text));
    expect(rows.map((r) => r.fraud)).toEqual([
      true,
      false,
      true,
      false,
      true,
      true,
    ]);
    expect(errors.map((e) => [e.line, e.field])).toEqual([
      [8, 'is_fraud'],
      [9, 'is_fraud'],
      [10, 'is_fraud'],
    ]);
  });

  it('stops after maxErrors with one error summarising the first ones', async () => {
    const text = [
      HEADER,
      ...Array.from({ length: 30 }, (_, i) =>
        row({ transaction_id: `t${i}`, amount: 'bad' }),
      ),
      row(),
    ].join('\n');
    const path = file(text);
    const thrown = await readTransactionsCsv(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(thrown).toBeInstanceOf(CsvReadError);
    const e = thrown as CsvReadError;
    expect(e.message).toMatch(
      /more than 20 row errors, stopped at line 22; first ones:\n {2}line 2, amount: not a number: "bad"\n {2}line 3, amount/,
    );
    expect(e.errors).toHaveLength(21);

    const exact = await readTransactionsCsv(path, { maxErrors: 30 });
    expect(exact.errors).toHaveLength(30);
    expect(exact.rows).toHaveLength(1);
    await expect(readTransactionsCsv(path, { maxErrors: 29 })).rejects.toThrow(
      /more than 29 row errors/,
    );
    await expect(readTransactionsCsv(path, { maxErrors: 0 })).rejects.toThrow(
      /more than 0 row errors, stopped at line 2/,
    );
    await expect(readTransactionsCsv(path, { maxErrors: -1 })).rejects.toThrow(
      RangeError,
    );
  });
});

describe('readTransactionsCsv: large files', () => {
  it('streams 200k rows across chunk boundaries, quoted newlines included', async () => {
    const n = 200_000;
    const cats = ['grocery', 'restaurants', 'travel', 'misc'];
    const parts: string[] = [`${HEADER},note\n`];
    let line = 2;
    const expectedLines: number[] = [];
    const t0 = Date.UTC(2026, 0, 1);
    for (let i = 0; i < n; i++) {
      const note =
        i % 97 === 0
          ? '"a, ""quoted""\nnote"'
          : i % 89 === 0
            ? '"café ☕"'
            : '';
      expectedLines.push(line);
      line += note.includes('\n') ? 2 : 1;
      parts.push(
        `tx${i},u${i % 5000},${((i % 1000) + 1) / 4},USD,${new Date(t0 + i * 61_000).toISOString()},${cats[i % 4]},${i % 3 ? 'online' : 'in_store'},` +
          `${i % 3 ? ',' : `${(i % 170) - 85},${(i % 360) - 180}`},${i % 2 ? '40.7,-74' : ','},${i % 500 === 0 ? 1 : 0},${note}\r\n`,
      );
    }
    const path = file(parts.join(''));
    const started = process.hrtime.bigint();
    const { rows, errors, ignoredColumns } = await readTransactionsCsv(path, {
      maxErrors: 0,
    });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(
      `readTransactionsCsv: ${n} rows in ${ms.toFixed(0)} ms (${((n / ms) * 1000).toFixed(0)} rows/s)`,
    );
    expect(errors).toEqual([]);
    expect(ignoredColumns).toEqual(['note']);
    expect(rows).toHaveLength(n);
    expect(rows.map((r) => r.line)).toEqual(expectedLines);
    expect(rows.filter((r) => r.fraud)).toHaveLength(n / 500);
    for (const i of [0, 1, 2, 97, n - 2, n - 1]) {
      expect(rows[i].tx).toEqual({
        transaction_id: `tx${i}`,
        user_id: `u${i % 5000}`,
        amount: ((i % 1000) + 1) / 4,
        currency: 'USD',
        timestamp: new Date(t0 + i * 61_000).toISOString(),
        merchant_category: cats[i % 4],
        channel: i % 3 ? 'online' : 'in_store',
        ...(i % 3
          ? {}
          : {
              merchant_location: { lat: (i % 170) - 85, lon: (i % 360) - 180 },
            }),
        ...(i % 2 ? { home_location: { lat: 40.7, lon: -74 } } : {}),
      });
      expect(rows[i].ts).toBe(t0 + i * 61_000);
    }
    // A customer's unchanged home point is one object; ids repeat as one string.
    const u1 = rows.filter((r) => r.tx.user_id === 'u1');
    expect(u1.length).toBeGreaterThan(1);
    expect(u1.every((r) => r.tx.home_location === u1[0].tx.home_location)).toBe(
      true,
    );
  }, 120_000);

  it('refuses a record that never ends (an unclosed quote) instead of buffering the file', async () => {
    const text = `${HEADER}\n${row({ transaction_id: '"open' })}\n${`${row()}\n`.repeat(20_000)}`;
    await expect(readTransactionsCsv(file(text))).rejects.toThrow(
      /line 2: a record longer than 1048576 bytes/,
    );
  });
});

const lt = (user: string, ts: number, line: number): LabelledTransaction => ({
  tx: tx({
    user_id: user,
    transaction_id: `t${line}`,
    timestamp: new Date(ts).toISOString(),
  }),
  fraud: false,
  ts,
  line,
});

describe('byCustomerInTimeOrder', () => {
  it('groups by customer, orders by time and keeps file order for equal times', () => {
    const rows = [
      lt('a', 300, 2),
      lt('b', 100, 3),
      lt('a', 100, 4),
      lt('a', 300, 5),
      lt('a', 100, 6),
      lt('b', 50, 7),
    ];
    const { customers, firstTs, lastTs } = byCustomerInTimeOrder(rows);
    expect([...customers.keys()]).toEqual(['a', 'b']);
    expect(customers.get('a')?.map((r) => r.line)).toEqual([4, 6, 2, 5]);
    expect(customers.get('b')?.map((r) => r.line)).toEqual([7, 3]);
    expect([firstTs, lastTs]).toEqual([50, 300]);
    // Reading order of the input does not matter, only (ts, line).
    const again = byCustomerInTimeOrder([...rows].reverse());
    expect(again.customers.get('a')?.map((r) => r.line)).toEqual([4, 6, 2, 5]);
    expect(byCustomerInTimeOrder([])).toEqual({
      customers: new Map(),
      firstTs: NaN,
      lastTs: NaN,
    });
  });
});

describe('timeCut', () => {
  it('puts the requested share of rows at or after the cut', () => {
    const base = Date.parse('2026-01-01T00:00:00Z');
    const rows = Array.from({ length: 1000 }, (_, i) =>
      lt('u', base + ((i * 7919) % 1000) * 60_000, i + 2),
    );
    const share = (cut: number) =>
      rows.filter((r) => r.ts >= cut).length / rows.length;
    const d = timeCut(rows);
    expect(share(d.cutTs)).toBe(0.2);
    expect(d.cutIso).toBe(new Date(base + 800 * 60_000).toISOString());
    expect(share(timeCut(rows, 0.35).cutTs)).toBe(0.35);
    expect(share(timeCut(rows, 0.0001).cutTs)).toBe(0.001); // never an empty side
    expect(share(timeCut(rows, 0.9999).cutTs)).toBe(0.999);
  });

  it('keeps rows of one timestamp together, choosing the closer side', () => {
    // 10 rows: ts 0 x5, 1 x3, 2 x2. Target 0.3 = 3 rows: cut at 1 gives 5, cut at 2 gives 2.
    const rows = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2].map((t, i) =>
      lt('u', t, i + 2),
    );
    expect(timeCut(rows, 0.3).cutTs).toBe(2);
    expect(timeCut(rows, 0.45).cutTs).toBe(1);
    expect(() => timeCut([lt('u', 5, 2), lt('v', 5, 3)])).toThrow(
      /two different timestamps/,
    );
    expect(() => timeCut(rows, 1)).toThrow(RangeError);
  });
});
