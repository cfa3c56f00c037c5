import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataFormatError,
  isDataFormatError,
  readDataset,
  readLabels,
  readSplit,
} from './dataset';

describe('dataset files', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'intent-data-'));
    mkdirSync(join(dir, 'train'));
    mkdirSync(join(dir, 'validation'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads labels and every .tsv of a split in file-name order, skipping blank lines and CRs', () => {
    writeFileSync(join(dir, 'labels.txt'), 'b_label\na_label\n\n');
    writeFileSync(join(dir, 'train', 'part-b.tsv'), 'a_label\tsecond file\n');
    writeFileSync(
      join(dir, 'train', 'part-a.tsv'),
      'b_label\t  first  \r\n\r\na_label\tagain\n',
    );
    writeFileSync(join(dir, 'train', 'notes.txt'), 'ignored');
    writeFileSync(join(dir, 'validation', 'v.tsv'), 'a_label\tval');
    const data = readDataset(dir);
    expect(data.labels).toEqual(['b_label', 'a_label']);
    expect(data.train).toEqual([
      { label: 'b_label', text: 'first', source: 'train/part-a.tsv:1' },
      { label: 'a_label', text: 'again', source: 'train/part-a.tsv:3' },
      { label: 'a_label', text: 'second file', source: 'train/part-b.tsv:1' },
    ]);
    expect(data.validation).toEqual([
      { label: 'a_label', text: 'val', source: 'validation/v.tsv:1' },
    ]);
  });

  it.each([
    ['no tab', 'a_label only text'],
    ['two tabs', 'a_label\ttext\tmore'],
    ['no label', '\ttext'],
    ['no text', 'a_label\t  '],
  ])('rejects a line with %s, naming file and line', (_, line) => {
    writeFileSync(join(dir, 'train', 'x.tsv'), `a_label\tfine\n${line}\n`);
    let error: unknown;
    try {
      readSplit(dir, 'train');
    } catch (e) {
      error = e;
    }
    expect(isDataFormatError(error)).toBe(true);
    expect((error as DataFormatError).code).toBe('DATA_FORMAT');
    expect((error as DataFormatError).message).toMatch(/^train\/x\.tsv:2: /);
  });

  it('rejects duplicate labels', () => {
    writeFileSync(join(dir, 'labels.txt'), 'a\nb\na\n');
    expect(() => readLabels(dir)).toThrow(DataFormatError);
    expect(isDataFormatError(new Error('other'))).toBe(false);
  });
});
