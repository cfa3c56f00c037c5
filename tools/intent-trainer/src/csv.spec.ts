import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseCsv, parseCsvExamples, readCsvExamples } from './csv';
import { DataFormatError } from './dataset';

const rows = (content: string): string[][] =>
  parseCsv(content, 'x.csv').map((r) => r.fields);

/** The error a call throws (fails the test when it does not throw). */
function thrown(call: () => unknown): DataFormatError {
  try {
    call();
  } catch (e) {
    expect(e).toBeInstanceOf(DataFormatError);
    return e as DataFormatError;
  }
  throw new Error('expected a DataFormatError');
}

describe('parseCsv', () => {
  it('splits plain records on commas and line ends', () => {
    expect(rows('a,b,c\n1,2,3\n')).toEqual([
      ['a', 'b', 'c'],
      ['1', '2', '3'],
    ]);
  });

  it('reads a last record without a line end', () => {
    expect(rows('a,b\n1,2')).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
  });

  it('treats CRLF, LF and a lone CR alike', () => {
    expect(rows('a,b\r\n1,2\n3,4\r5,6\r\n')).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
      ['5', '6'],
    ]);
  });

  it('drops a UTF-8 byte order mark before the header but keeps one anywhere else', () => {
    expect(rows('\ufefftext,category\n\ufeffhi,greet\n')).toEqual([
      ['text', 'category'],
      ['\ufeffhi', 'greet'],
    ]);
  });

  it('keeps commas, doubled quotes and line breaks inside quoted fields', () => {
    expect(
      rows('"a,1","say ""hi""","line 1\nline 2"\r\n"x\r\ny","",""""\n'),
    ).toEqual([
      ['a,1', 'say "hi"', 'line 1\nline 2'],
      ['x\r\ny', '', '"'],
    ]);
  });

  it('keeps empty fields, including a trailing one, and spaces in unquoted fields', () => {
    expect(rows('a,,c,\n , b ,,\n')).toEqual([
      ['a', '', 'c', ''],
      [' ', ' b ', '', ''],
    ]);
  });

  it('skips empty lines, also before the header and at the end', () => {
    expect(rows('\n\r\na,b\n\n1,2\r\n\r\n\n')).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
  });

  it('reads an empty quoted field as a one-field record, not an empty line', () => {
    expect(rows('a\n""\n')).toEqual([['a'], ['']]);
  });

  it('returns nothing for an empty file or a lone byte order mark', () => {
    expect(rows('')).toEqual([]);
    expect(rows('\ufeff')).toEqual([]);
  });

  it('numbers records and the physical lines they start on, counting breaks inside quotes', () => {
    const records = parseCsv('h1,h2\n\n"a\nb\r\nc",1\n"d\re",2\nf,3', 'x.csv');
    expect(records.map((r) => [r.record, r.line])).toEqual([
      [1, 1],
      [2, 3],
      [3, 6],
      [4, 8],
    ]);
  });

  it('rejects an unterminated quote, naming the file and the line where it opened', () => {
    const e = thrown(() =>
      parseCsv('text,category\nfine,a\n"open,\nstill open\n', 'in.csv'),
    );
    expect(e.message).toMatch(
      /^in\.csv:3: record 3: quoted field is not closed/,
    );
    expect(e.code).toBe('DATA_FORMAT');
  });

  it('rejects a quote inside an unquoted field', () => {
    expect(
      thrown(() => parseCsv('a,b\nsay "hi",x\n', 'in.csv')).message,
    ).toMatch(/^in\.csv:2: record 2: quote inside an unquoted field/);
    // Spaces before an opening quote make the field unquoted.
    expect(thrown(() => parseCsv('a,b\n1, "2"\n', 'in.csv')).message).toMatch(
      /^in\.csv:2: record 2: quote inside/,
    );
  });

  it('rejects text after a closing quote', () => {
    expect(thrown(() => parseCsv('a,b\n"x"y,1\n', 'in.csv')).message).toMatch(
      /^in\.csv:2: record 2: unexpected "y" after a closing quote/,
    );
    expect(thrown(() => parseCsv('a,b\n"x" ,1\n', 'in.csv')).message).toMatch(
      /^in\.csv:2: record 2: unexpected " " after a closing quote/,
    );
  });

  it('rejects a record with too few or too many fields, naming its first line', () => {
    expect(thrown(() => parseCsv('a,b\n1,2\n3\n', 'in.csv')).message).toBe(
      'in.csv:3: record 3: 1 field, the header has 2',
    );
    expect(
      thrown(() => parseCsv('a,b\n"multi\nline",2,3\n', 'in.csv')).message,
    ).toBe('in.csv:2: record 2: 3 fields, the header has 2');
  });

  it('reports lines after quoted line breaks correctly in errors', () => {
    expect(
      thrown(() => parseCsv('a,b\n"1\n2\n3",x\nbad"\n', 'in.csv')).message,
    ).toMatch(/^in\.csv:5: record 3: /);
  });

  it('reads back any table written with RFC 4180 quoting (property)', () => {
    const field = fc.string({
      unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '\n', '\r', 'é', '😀'),
      maxLength: 8,
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((width) =>
          fc.array(fc.array(field, { minLength: width, maxLength: width }), {
            minLength: 1,
            maxLength: 6,
          }),
        ),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        fc.boolean(),
        (table, eol, finalEol, bom) => {
          const quote = (f: string): string =>
            /[",\r\n]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f;
          const body = table.map((r) => r.map(quote).join(',')).join(eol);
          const content = `${bom ? '\ufeff' : ''}${body}${finalEol ? eol : ''}`;
          expect(rows(content)).toEqual(table);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('CSV examples', () => {
  it('maps the text and category columns in any order, ignoring extra columns', () => {
    const content =
      'id, Category ,source,TEXT\r\n1,card_lost,web,"I lost my card, help"\r\n2,greet,app,  hello  \r\n';
    expect(parseCsvExamples(content, 'a.csv')).toEqual([
      { label: 'card_lost', text: 'I lost my card, help', source: 'a.csv:2' },
      { label: 'greet', text: 'hello', source: 'a.csv:3' },
    ]);
  });

  it('gives each example the line its record starts on', () => {
    const examples = parseCsvExamples(
      'text,category\n"two\nlines",a\nnext,b\n',
      'a.csv',
    );
    expect(examples.map((e) => e.source)).toEqual(['a.csv:2', 'a.csv:4']);
    expect(examples[0].text).toBe('two\nlines');
  });

  it('accepts a header with no examples', () => {
    expect(parseCsvExamples('text,category\n', 'a.csv')).toEqual([]);
  });

  it.each([
    ['an empty file', '', /^a\.csv: empty file/],
    [
      'a header without category',
      'text,label\nhi,x\n',
      /^a\.csv:1: the header must name/,
    ],
    [
      'a header without text',
      'category\nx\n',
      /^a\.csv:1: the header must name/,
    ],
    [
      'a header naming text twice',
      'text,category,Text\na,b,c\n',
      /^a\.csv:1: the header names "text" twice/,
    ],
    [
      'an empty text',
      'text,category\n  ,x\n',
      /^a\.csv:2: record 2: empty text$/,
    ],
    [
      'an empty category',
      'text,category\nhello,""\n',
      /^a\.csv:2: record 2: empty category$/,
    ],
  ])('rejects %s', (_, content, message) => {
    expect(thrown(() => parseCsvExamples(content, 'a.csv')).message).toMatch(
      message,
    );
  });

  it('reads a file as UTF-8 and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'intent-csv-'));
    try {
      const path = join(dir, 'data.csv');
      writeFileSync(path, '\ufefftext,category\n"naïve café",food\n');
      expect(readCsvExamples(path, 'data.csv')).toEqual([
        { label: 'food', text: 'naïve café', source: 'data.csv:2' },
      ]);
      writeFileSync(path, 'text,category\n"broken,food\n');
      expect(thrown(() => readCsvExamples(path)).message).toContain(
        `${path}:2: record 2: quoted field is not closed`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
