import { readFileSync } from 'node:fs';
import { DataFormatError, type Example } from './dataset';

/** One CSV record: its fields, the physical line it starts on and its 1-based record number (header = 1). */
export interface CsvRecord {
  fields: string[];
  line: number;
  record: number;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Parses RFC 4180 CSV text. Accepted beyond the RFC: LF or a lone CR as well as CRLF line ends, a
 * leading UTF-8 byte order mark, a last record without a line end, and empty lines between
 * records (skipped). Quoted fields may hold commas, doubled quotes and line breaks (kept as
 * written). Every record must have as many fields as the first. Malformed input throws a
 * DataFormatError that starts with `<file>:<line>: record <n>:`.
 */
export function parseCsv(content: string, file: string): CsvRecord[] {
  const n = content.length;
  let i = content.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const records: CsvRecord[] = [];
  const fail = (at: number, message: string): never => {
    throw new DataFormatError(
      `${file}:${at}: record ${records.length + 1}: ${message}`,
    );
  };
  /** Consumes a line end at i (CRLF, LF or CR); returns whether there was one. */
  const lineEnd = (): boolean => {
    const c = content.charCodeAt(i);
    if (c === CR) {
      i += content.charCodeAt(i + 1) === LF ? 2 : 1;
    } else if (c === LF) {
      i++;
    } else return false;
    line++;
    return true;
  };

  while (i < n) {
    if (lineEnd()) continue; // an empty line
    const start = line;
    const fields: string[] = [];
    for (;;) {
      if (content.charCodeAt(i) === QUOTE) {
        const opened = line;
        i++;
        let value = '';
        for (;;) {
          const close = content.indexOf('"', i);
          if (close === -1)
            fail(
              opened,
              'quoted field is not closed before the end of the file',
            );
          const chunk = content.slice(i, close);
          line += countLineBreaks(chunk);
          value += chunk;
          if (content.charCodeAt(close + 1) === QUOTE) {
            value += '"';
            i = close + 2;
          } else {
            i = close + 1;
            break;
          }
        }
        const next = content.charCodeAt(i);
        if (i < n && next !== COMMA && next !== CR && next !== LF)
          fail(
            line,
            `unexpected ${JSON.stringify(content[i])} after a closing quote`,
          );
        fields.push(value);
      } else {
        let j = i;
        for (; j < n; j++) {
          const c = content.charCodeAt(j);
          if (c === COMMA || c === CR || c === LF) break;
          if (c === QUOTE)
            fail(
              line,
              'quote inside an unquoted field (quote the whole field and double the quote)',
            );
        }
        fields.push(content.slice(i, j));
        i = j;
      }
      if (content.charCodeAt(i) === COMMA) {
        i++;
        continue;
      }
      lineEnd();
      break;
    }
    if (records.length > 0 && fields.length !== records[0].fields.length) {
      fail(
        start,
        `${fields.length} field${fields.length === 1 ? '' : 's'}, the header has ${records[0].fields.length}`,
      );
    }
    records.push({ fields, line: start, record: records.length + 1 });
  }
  return records;
}

function countLineBreaks(s: string): number {
  let count = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === LF) count++;
    else if (c === CR) {
      count++;
      if (s.charCodeAt(k + 1) === LF) k++;
    }
  }
  return count;
}

export const TEXT_COLUMN = 'text';
export const LABEL_COLUMN = 'category';

/**
 * Labelled examples from CSV text with a header row naming `text` and `category` (any order,
 * case and surrounding spaces ignored; other columns ignored). Text and category are trimmed and
 * must not be empty. `source` of each example is `<file>:<line>`.
 */
export function parseCsvExamples(content: string, file: string): Example[] {
  const records = parseCsv(content, file);
  if (records.length === 0)
    throw new DataFormatError(
      `${file}: empty file (a header row "text,category" is required)`,
    );
  const header = records[0].fields.map((h) => h.trim().toLowerCase());
  const column = (name: string): number => {
    const at = header.indexOf(name);
    if (at === -1)
      throw new DataFormatError(
        `${file}:1: the header must name the columns "${TEXT_COLUMN}" and "${LABEL_COLUMN}" (found ${records[0].fields.map((h) => JSON.stringify(h)).join(', ')})`,
      );
    if (header.indexOf(name, at + 1) !== -1)
      throw new DataFormatError(`${file}:1: the header names "${name}" twice`);
    return at;
  };
  const textAt = column(TEXT_COLUMN);
  const labelAt = column(LABEL_COLUMN);
  return records.slice(1).map(({ fields, line, record }) => {
    const text = fields[textAt].trim();
    const label = fields[labelAt].trim();
    const where = `${file}:${line}: record ${record}`;
    if (text === '') throw new DataFormatError(`${where}: empty text`);
    if (label === '') throw new DataFormatError(`${where}: empty category`);
    return { label, text, source: `${file}:${line}` };
  });
}

/** Reads a UTF-8 CSV file; see parseCsvExamples. `name` is the file name used in messages. */
export function readCsvExamples(path: string, name = path): Example[] {
  return parseCsvExamples(readFileSync(path, 'utf8'), name);
}
