import { createReadStream } from 'node:fs';
import {
  CHANNELS,
  MERCHANT_CATEGORIES,
  isFeatureInputError,
  normalizeTransaction,
  type GeoPoint,
  type TransactionInput,
} from '@ml/anomaly-features';
import {
  DEFAULT_MAX_AMOUNT,
  TransactionDto,
  transactionRuleProblems,
  validateBody,
  type TransactionRules,
} from '@ml/contracts';
import { isValidationFailedError } from '@ml/errors';

/**
 * Labelled transaction history as CSV: the reader the trainer uses for a bank's own data
 * (`--transactions FILE.csv`) and the writer for exporting simulated data.
 *
 * Format: a header row, then one transaction per record. Columns are the contract's field names
 * (`transaction_id`, `user_id`, `amount`, `currency`, `timestamp`, `merchant_category`,
 * `channel`), the locations as flat pairs (`merchant_lat`, `merchant_lon`, `home_lat`,
 * `home_lon`: both empty = absent, optional columns) and the label `is_fraud` (0/1/true/false,
 * any case). Any column order; header names are matched trimmed and case-insensitively; other
 * columns are ignored (listed once in `ignoredColumns`). RFC 4180 quoting (commas, doubled quotes
 * and line breaks inside quotes), CRLF, LF or lone CR line ends, an optional UTF-8 BOM; empty
 * lines are skipped.
 *
 * Every row is checked with the rules the service applies to a request (the DTO's structural
 * rules, the configurable amount ceiling and future-timestamp margin, then the feature code's
 * `normalizeTransaction`), so nothing is trained on that the live detector would refuse.
 * Strings are taken as written (the service does not trim either); numbers are the trimmed text
 * in plain decimal notation (`Number()` would also take `0x1f`, `Infinity` and empty text).
 */

/** A transaction of the file with its label. */
export interface LabelledTransaction {
  readonly tx: TransactionInput;
  readonly fraud: boolean;
  /** Epoch ms of `tx.timestamp`, as the feature code reads it. */
  readonly ts: number;
  /** 1-based physical line the record starts on (the header is line 1). */
  readonly line: number;
}

/** One problem of one row; `field` is the CSV column ('' for the row as a whole). */
export interface CsvRowError {
  readonly line: number;
  readonly field: string;
  readonly message: string;
}

export interface CsvReadResult {
  rows: LabelledTransaction[];
  /** Problems of the rows that were left out (a row can have several). */
  errors: CsvRowError[];
  /** Header names of columns the reader does not use, as written. */
  ignoredColumns: string[];
}

export interface CsvReadOptions {
  /** More row errors than this stops the read with a CsvReadError (default 20). */
  maxErrors?: number;
  /** The service's configurable rules (default: its defaults, 1,000,000 and 24 h). */
  rules?: TransactionRules;
  /** The clock the future-timestamp rule compares with (default Date.now()). */
  now?: number;
}

/** A file that cannot be read as a whole: bad header, too many bad rows, a runaway record. */
export class CsvReadError extends Error {
  constructor(
    message: string,
    readonly errors: readonly CsvRowError[] = [],
  ) {
    super(message);
    this.name = 'CsvReadError';
  }
}

export const DEFAULT_MAX_ERRORS = 20;
/** The service's defaults (MAX_TRANSACTION_AMOUNT, MAX_FUTURE_SKEW_HOURS). */
export const DEFAULT_TRANSACTION_RULES: TransactionRules = {
  maxAmount: DEFAULT_MAX_AMOUNT,
  maxFutureMs: 24 * 3_600_000,
};
/** Longest record accepted; longer means an unterminated quote swallowing the file. */
export const MAX_RECORD_BYTES = 1 << 20;

const REQUIRED = [
  'transaction_id',
  'user_id',
  'amount',
  'currency',
  'timestamp',
  'merchant_category',
  'channel',
  'is_fraud',
] as const;
const LOCATIONS = [
  ['merchant_location', 'merchant_lat', 'merchant_lon'],
  ['home_location', 'home_lat', 'home_lon'],
] as const;
/** The writer's column order. */
export const CSV_COLUMNS = [
  ...REQUIRED.slice(0, 7),
  'merchant_lat',
  'merchant_lon',
  'home_lat',
  'home_lon',
  'is_fraud',
] as const;
type Column = (typeof CSV_COLUMNS)[number];

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;

/** Problems found while splitting a record into fields, by column index. */
interface FieldProblem {
  readonly col: number;
  readonly message: string;
}

/**
 * Splits records out of a byte buffer. Delimiters are ASCII, which never occurs inside a UTF-8
 * multi-byte sequence, so fields are decoded straight from their byte ranges: each value is a
 * fresh string (not a slice of a larger one that would keep the file's text alive), and columns
 * nobody reads are never decoded.
 */
class RecordScanner {
  /** Decoded values of the wanted columns of the last record. */
  readonly values: Array<string | undefined>;
  /** Fields in the last record. */
  fields = 0;
  /** Physical lines the last record spans (including its line end). */
  lines = 0;
  /** The last record was an empty line. */
  blank = false;
  problems: FieldProblem[] = [];

  constructor(private readonly wanted: readonly boolean[]) {
    this.values = new Array<string | undefined>(wanted.length);
  }

  /**
   * Scans the record starting at `start`. Returns the index after it, or -1 when the buffer ends
   * before the record does and more data may follow (`eof` false).
   */
  scan(buf: Buffer, start: number, eof: boolean): number {
    const n = buf.length;
    const wanted = this.wanted;
    this.values.fill(undefined);
    this.problems = [];
    this.lines = 0;
    this.blank = false;
    let i = start;
    let col = 0;
    for (;;) {
      const want = col < wanted.length && wanted[col];
      let value: string | undefined;
      let j: number; // the delimiter (or n) after this field
      if (i < n && buf[i] === QUOTE) {
        let from = i + 1;
        let doubled = false;
        let close = -1;
        for (;;) {
          const q = buf.indexOf(QUOTE, from);
          if (q < 0 || (q + 1 >= n && !eof)) {
            if (!eof) return -1;
            break;
          }
          if (buf[q + 1] === QUOTE) {
            doubled = true;
            from = q + 2;
            continue;
          }
          close = q;
          break;
        }
        if (close < 0) {
          this.lines += lineBreaks(buf, i + 1, n);
          this.problems.push({
            col,
            message: 'quoted field is not closed before the end of the file',
          });
          this.fields = col + 1;
          return n;
        }
        this.lines += lineBreaks(buf, i + 1, close);
        if (want) {
          value = buf.toString('utf8', i + 1, close);
          if (doubled) value = value.replace(/""/g, '"');
        }
        j = close + 1;
        if (j < n && buf[j] !== COMMA && buf[j] !== CR && buf[j] !== LF) {
          this.problems.push({
            col,
            message: 'text after the closing quote',
          });
          value = undefined;
          j = this.nextDelimiter(buf, j);
          if (j >= n && !eof) return -1;
        }
      } else {
        j = this.nextDelimiter(buf, i);
        if (j >= n && !eof) return -1;
        if (this.sawQuote) {
          this.problems.push({
            col,
            message:
              'quote inside an unquoted field (quote the whole field and double the quote)',
          });
        } else if (want) {
          value = buf.toString('utf8', i, j);
        }
        if (col === 0 && j === i && (j >= n || buf[j] !== COMMA))
          this.blank = true;
      }
      if (col < this.values.length) this.values[col] = value;
      col++;
      if (j >= n) {
        this.fields = col;
        return n;
      }
      if (buf[j] === COMMA) {
        i = j + 1;
        continue;
      }
      this.fields = col;
      this.lines++;
      if (buf[j] === LF) return j + 1;
      // CR: with LF after it one line end, alone one too; at the buffer's end we cannot tell yet.
      if (j + 1 >= n) return eof ? n : -1;
      return buf[j + 1] === LF ? j + 2 : j + 1;
    }
  }

  /** Set by nextDelimiter: the bytes it skipped hold a quote. */
  private sawQuote = false;

  /** Index of the first comma, CR or LF at or after `from` (buf.length if none). */
  private nextDelimiter(buf: Buffer, from: number): number {
    const n = buf.length;
    let quote = false;
    let j = from;
    for (; j < n; j++) {
      const c = buf[j];
      if (c === COMMA || c === LF || c === CR) break;
      if (c === QUOTE) quote = true;
    }
    this.sawQuote = quote;
    return j;
  }
}

/** Line breaks (CRLF, LF, lone CR) in buf[from, to). */
function lineBreaks(buf: Buffer, from: number, to: number): number {
  let count = 0;
  for (let k = from; k < to; k++) {
    const c = buf[k];
    if (c === LF) count++;
    else if (c === CR) {
      count++;
      if (k + 1 < to && buf[k + 1] === LF) k++;
    }
  }
  return count;
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Number of the trimmed text in plain decimal notation, or the reason it is not one. */
function parseNumber(text: string): number | string {
  const t = text.trim();
  if (t === '') return 'is empty';
  if (!DECIMAL.test(t)) return `not a number: ${JSON.stringify(text)}`;
  const v = Number(t);
  return Number.isFinite(v) ? v : `out of range: ${JSON.stringify(text)}`;
}

function parseFraud(text: string): boolean | undefined {
  switch (text.trim().toLowerCase()) {
    case '1':
    case 'true':
      return true;
    case '0':
    case 'false':
      return false;
    default:
      return undefined;
  }
}

/** CSV column of a field path of the service's messages (`merchant_location.lat` -> merchant_lat). */
function columnOf(path: string): string {
  for (const [nested, lat, lon] of LOCATIONS) {
    if (path === `${nested}.lat`) return lat;
    if (path === `${nested}.lon`) return lon;
    if (path === nested) return lat;
  }
  return path;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Customer {
  readonly id: string;
  home: GeoPoint | undefined;
}

/** The header's column indices, checked. */
function readHeader(
  names: readonly string[],
  path: string,
  line: number,
): {
  at: Record<Column, number>;
  ignored: string[];
} {
  const index = new Map<string, number>();
  const ignored: string[] = [];
  const twice = new Set<string>();
  names.forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if (!(CSV_COLUMNS as readonly string[]).includes(name)) {
      ignored.push(raw);
      return;
    }
    if (index.has(name)) twice.add(name);
    index.set(name, i);
  });
  const problems: string[] = [];
  const missing = REQUIRED.filter((c) => !index.has(c));
  if (missing.length)
    problems.push(
      `missing required column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
    );
  if (twice.size) problems.push(`column named twice: ${[...twice].join(', ')}`);
  for (const [, lat, lon] of LOCATIONS) {
    if (index.has(lat) !== index.has(lon))
      problems.push(
        `${index.has(lat) ? lat : lon} without ${index.has(lat) ? lon : lat} (give both columns or neither)`,
      );
  }
  if (problems.length)
    throw new CsvReadError(
      `${path}: line ${line} (header): ${problems.join('; ')} (found ${names.map((h) => JSON.stringify(h)).join(', ') || 'no columns'})`,
      problems.map((message) => ({ line, field: '', message })),
    );
  const at = {} as Record<Column, number>;
  for (const c of CSV_COLUMNS) at[c] = index.get(c) ?? -1;
  return { at, ignored };
}

/**
 * Reads labelled transactions from a CSV file (see the format above), streaming: memory holds
 * the rows kept, never the file's text. Bad rows are left out and described in `errors`; more
 * than `maxErrors` of them stops the read with a CsvReadError listing the first ones, as does a
 * bad header.
 */
export async function readTransactionsCsv(
  path: string,
  options: CsvReadOptions = {},
): Promise<CsvReadResult> {
  const maxErrors = options.maxErrors ?? DEFAULT_MAX_ERRORS;
  if (!(maxErrors >= 0))
    throw new RangeError(`maxErrors must be >= 0 (got ${maxErrors})`);
  const rules = options.rules ?? DEFAULT_TRANSACTION_RULES;
  const now = options.now ?? Date.now();

  const rows: LabelledTransaction[] = [];
  const errors: CsvRowError[] = [];
  let ignoredColumns: string[] = [];
  const customers = new Map<string, Customer>();
  const currencies = new Map<string, string>();

  let at: Record<Column, number> | undefined;
  let names: string[] = [];
  let scanner = new RecordScanner([]);
  let headerScanner: RecordScanner | undefined;
  let line = 1;
  let bomChecked = false;

  const fail = (row: number, field: string, message: string): void => {
    errors.push({ line: row, field, message });
  };
  const checkErrorBudget = (): void => {
    if (errors.length <= maxErrors) return;
    const shown = errors.slice(0, Math.min(errors.length, 10));
    throw new CsvReadError(
      `${path}: more than ${maxErrors} row error${maxErrors === 1 ? '' : 's'}, stopped at line ${errors[errors.length - 1].line}; first ones:\n` +
        shown
          .map(
            (e) =>
              `  line ${e.line}${e.field ? `, ${e.field}` : ''}: ${e.message}`,
          )
          .join('\n'),
      errors,
    );
  };

  /** One data record: validated and kept, or its problems recorded. */
  const record = (row: number): void => {
    const cols = at as Record<Column, number>;
    const fieldName = (col: number): string => {
      if (col >= names.length) return `column ${col + 1}`;
      const name = names[col].trim();
      return Object.values(cols).includes(col) ? name.toLowerCase() : name;
    };
    if (scanner.problems.length) {
      for (const p of scanner.problems) fail(row, fieldName(p.col), p.message);
      return;
    }
    if (scanner.fields !== names.length) {
      fail(
        row,
        '',
        `${scanner.fields} field${scanner.fields === 1 ? '' : 's'}, the header has ${names.length}`,
      );
      return;
    }
    const v = scanner.values;
    const get = (c: Column): string =>
      cols[c] < 0 ? '' : (v[cols[c]] as string);
    const problems: Array<{ field: string; message: string }> = [];
    const num = (c: Column, placeholder: number): number => {
      const parsed = parseNumber(get(c));
      if (typeof parsed === 'number') return parsed;
      problems.push({ field: c, message: parsed });
      return placeholder;
    };

    const body: Record<string, unknown> = {
      transaction_id: get('transaction_id'),
      user_id: get('user_id'),
      amount: num('amount', 1),
      currency: get('currency'),
      timestamp: get('timestamp'),
      merchant_category: get('merchant_category'),
      channel: get('channel'),
    };
    for (const [nested, lat, lon] of LOCATIONS) {
      const latText = get(lat).trim();
      const lonText = get(lon).trim();
      if (latText === '' && lonText === '') continue;
      if (latText === '' || lonText === '') {
        const [empty, given] = latText === '' ? [lat, lon] : [lon, lat];
        problems.push({
          field: empty,
          message: `is empty but ${given} is not (give both or neither)`,
        });
        continue;
      }
      body[nested] = { lat: num(lat, 0), lon: num(lon, 0) };
    }
    const fraud = parseFraud(get('is_fraud'));
    if (fraud === undefined)
      problems.push({
        field: 'is_fraud',
        message: `must be 0, 1, true or false (got ${JSON.stringify(get('is_fraud'))})`,
      });

    const add = (field: string, message: string): void => {
      const column = columnOf(field);
      if (!problems.some((p) => p.field === column))
        problems.push({ field: column, message });
    };
    let ts = NaN;
    try {
      validateBody(TransactionDto, body);
    } catch (e) {
      if (!isValidationFailedError(e)) throw e;
      for (const f of e.errors ?? []) add(f.field, f.message);
    }
    if (problems.length === 0) {
      // What the service checks once the DTO accepts a body (libs/anomaly transactionProblems).
      for (const p of transactionRuleProblems(
        body as unknown as TransactionDto,
        rules,
        now,
      ))
        add(p.field, p.message);
      try {
        ts = normalizeTransaction(body as unknown as TransactionInput).ts;
      } catch (e) {
        if (!isFeatureInputError(e)) throw e;
        const prefix = `${e.field}: `;
        add(
          e.field,
          e.message.startsWith(prefix)
            ? e.message.slice(prefix.length)
            : e.message,
        );
      }
    }
    if (problems.length) {
      for (const p of problems) fail(row, p.field, p.message);
      return;
    }

    // Kept: share what repeats (one string per customer and currency, the lists' own category and
    // channel strings, a customer's home point while it does not change).
    const userId = body['user_id'] as string;
    let customer = customers.get(userId);
    if (!customer) {
      customer = { id: userId, home: undefined };
      customers.set(userId, customer);
    }
    const currencyText = body['currency'] as string;
    let currency = currencies.get(currencyText);
    if (currency === undefined) {
      currency = currencyText;
      currencies.set(currency, currency);
    }
    const merchant = body['merchant_location'] as GeoPoint | undefined;
    let home = body['home_location'] as GeoPoint | undefined;
    if (home) {
      const last = customer.home;
      if (last && last.lat === home.lat && last.lon === home.lon) home = last;
      else customer.home = home;
    }
    const tx: Mutable<TransactionInput> = {
      transaction_id: body['transaction_id'] as string,
      user_id: customer.id,
      amount: body['amount'] as number,
      currency,
      timestamp: body['timestamp'] as string,
      merchant_category:
        MERCHANT_CATEGORIES[
          MERCHANT_CATEGORIES.indexOf(body['merchant_category'] as never)
        ],
      channel: CHANNELS[CHANNELS.indexOf(body['channel'] as never)],
    };
    // Absent locations stay absent keys, as in a request body (no spread: it costs per row).
    if (merchant) tx.merchant_location = merchant;
    if (home) tx.home_location = home;
    rows.push({ tx, fraud: fraud as boolean, ts, line: row });
  };

  /** Consumes the complete records of buf; returns where the first incomplete one starts. */
  const consume = (buf: Buffer, eof: boolean): number => {
    let pos = 0;
    if (!bomChecked) {
      if (buf.length < 3 && !eof) return 0;
      bomChecked = true;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
    }
    while (pos < buf.length) {
      if (!at) {
        headerScanner ??= new RecordScanner(
          new Array<boolean>(4096).fill(true),
        );
        const end = headerScanner.scan(buf, pos, eof);
        if (end < 0) return pos;
        const startLine = line;
        line += headerScanner.lines;
        pos = end;
        if (headerScanner.blank) continue;
        if (headerScanner.problems.length || headerScanner.fields > 4096)
          throw new CsvReadError(
            `${path}: line ${startLine} (header): ${headerScanner.problems[0]?.message ?? 'more than 4096 columns'}`,
          );
        names = headerScanner.values
          .slice(0, headerScanner.fields)
          .map((s) => s ?? '');
        const header = readHeader(names, path, startLine);
        at = header.at;
        ignoredColumns = header.ignored;
        const wanted = names.map((_, i) =>
          Object.values(at as object).includes(i),
        );
        scanner = new RecordScanner(wanted);
        continue;
      }
      const end = scanner.scan(buf, pos, eof);
      if (end < 0) return pos;
      const startLine = line;
      line += scanner.lines;
      pos = end;
      if (scanner.blank) continue;
      record(startLine);
      checkErrorBudget();
    }
    return pos;
  };

  let carry: Buffer | undefined;
  for await (const chunk of createReadStream(path, {
    highWaterMark: 1 << 20,
  })) {
    const buf: Buffer = carry
      ? Buffer.concat([carry, chunk as Buffer])
      : (chunk as Buffer);
    const pos = consume(buf, false);
    carry = pos < buf.length ? buf.subarray(pos) : undefined;
    if (carry && carry.length > MAX_RECORD_BYTES)
      throw new CsvReadError(
        `${path}: line ${line}: a record longer than ${MAX_RECORD_BYTES} bytes (a quote that is never closed?)`,
      );
  }
  consume(carry ?? Buffer.alloc(0), true);
  if (!at)
    throw new CsvReadError(
      `${path}: no header row (required: ${REQUIRED.join(', ')})`,
    );
  return { rows, errors, ignoredColumns };
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** CSV text the reader reads back to the same transactions and labels (LF line ends). */
export function toCsv(
  rows: Iterable<{ tx: TransactionInput; fraud: boolean }>,
): string {
  const lines: string[] = [CSV_COLUMNS.join(',')];
  for (const { tx, fraud } of rows) {
    const m = tx.merchant_location;
    const h = tx.home_location;
    lines.push(
      [
        csvField(tx.transaction_id),
        csvField(tx.user_id),
        String(tx.amount),
        csvField(tx.currency),
        csvField(tx.timestamp),
        csvField(tx.merchant_category),
        csvField(tx.channel),
        m ? String(m.lat) : '',
        m ? String(m.lon) : '',
        h ? String(h.lat) : '',
        h ? String(h.lon) : '',
        fraud ? '1' : '0',
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * Groups by user_id and orders each customer's rows by (ts, line): the order the trainer replays.
 * Also returns the overall time range (NaN for no rows).
 */
export function byCustomerInTimeOrder(rows: readonly LabelledTransaction[]): {
  customers: Map<string, LabelledTransaction[]>;
  firstTs: number;
  lastTs: number;
} {
  const customers = new Map<string, LabelledTransaction[]>();
  let firstTs = Infinity;
  let lastTs = -Infinity;
  for (const r of rows) {
    const list = customers.get(r.tx.user_id);
    if (list) list.push(r);
    else customers.set(r.tx.user_id, [r]);
    if (r.ts < firstTs) firstTs = r.ts;
    if (r.ts > lastTs) lastTs = r.ts;
  }
  for (const list of customers.values())
    list.sort((a, b) => a.ts - b.ts || a.line - b.line);
  return rows.length
    ? { customers, firstTs, lastTs }
    : { customers, firstTs: NaN, lastTs: NaN };
}

/**
 * Splits by time: rows with ts < cut are train, the rest validation. The cut is the timestamp
 * that brings the validation share of rows closest to `validShare` (default 0.2) while leaving
 * both sides non-empty; rows sharing a timestamp always fall on the same side.
 */
export function timeCut(
  rows: readonly LabelledTransaction[],
  validShare = 0.2,
): { cutTs: number; cutIso: string } {
  if (!(validShare > 0 && validShare < 1))
    throw new RangeError(`validShare must lie in (0, 1) (got ${validShare})`);
  const n = rows.length;
  const sorted = new Float64Array(n);
  for (let i = 0; i < n; i++) sorted[i] = rows[i].ts;
  sorted.sort();
  if (n < 2 || sorted[0] === sorted[n - 1])
    throw new RangeError(
      'timeCut needs rows with at least two different timestamps',
    );
  const target = Math.min(n - 1, Math.max(1, Math.round(n * validShare)));
  const v = sorted[n - target];
  let lo = n - target; // first index holding v
  while (lo > 0 && sorted[lo - 1] === v) lo--;
  let hi = n - target; // first index past v
  while (hi < n && sorted[hi] === v) hi++;
  // Cutting at v puts n - lo rows (>= target) in validation; at the next timestamp n - hi (< target).
  const candidates: number[] = [];
  if (lo > 0) candidates.push(lo);
  if (hi < n) candidates.push(hi);
  const best = candidates.reduce((a, b) =>
    Math.abs(n - b - target) < Math.abs(n - a - target) ? b : a,
  );
  const cutTs = sorted[best];
  return { cutTs, cutIso: new Date(cutTs).toISOString() };
}
