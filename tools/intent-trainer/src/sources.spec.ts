import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataFormatError, type Example } from './dataset';
import {
  holdoutCount,
  holdoutSplit,
  loadSources,
  mergeSources,
  mulberry32,
  readSource,
  type LoadedSource,
} from './sources';

const hex = (content: string | Buffer): string =>
  createHash('sha256').update(content).digest('hex');

function source(name: string, rows: Array<[string, string]>): LoadedSource {
  return {
    name,
    license: null,
    file: `${name}.csv`,
    format: 'csv',
    sha256: '',
    examples: rows.map(([label, text], i) => ({
      label,
      text,
      source: `${name}.csv:${i + 2}`,
    })),
  };
}

function message(call: () => unknown): string {
  try {
    call();
  } catch (e) {
    expect(e).toBeInstanceOf(DataFormatError);
    return (e as Error).message;
  }
  throw new Error('expected a DataFormatError');
}

describe('training sources', () => {
  let dir: string;
  const write = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'intent-sources-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('readSource', () => {
    it('reads a CSV file with its name, license and the sha256 of its bytes', () => {
      const content = '\ufefftext,category\r\n"hi, there",greet\r\n';
      const path = write('chat.csv', content);
      const s = readSource({ path, license: 'CC0' });
      expect(s).toMatchObject({
        name: 'chat',
        license: 'CC0',
        file: 'chat.csv',
        format: 'csv',
        sha256: hex(Buffer.from(content, 'utf8')),
      });
      expect(s.examples).toEqual([
        { label: 'greet', text: 'hi, there', source: `${path}:2` },
      ]);
    });

    it('reads a TSV file and a folder of TSV files in name order', () => {
      const path = write('one.tsv', 'a\tfirst\r\n\nb\tsecond\n');
      expect(readSource({ path, name: 'mine' })).toMatchObject({
        name: 'mine',
        license: null,
        format: 'tsv',
        sha256: hex('a\tfirst\r\n\nb\tsecond\n'),
        examples: [
          { label: 'a', text: 'first', source: `${path}:1` },
          { label: 'b', text: 'second', source: `${path}:3` },
        ],
      });

      const folder = join(dir, 'more');
      mkdirSync(folder);
      writeFileSync(join(folder, 'z.tsv'), 'a\tlast\n');
      writeFileSync(join(folder, 'm.tsv'), 'b\tearly\n');
      writeFileSync(join(folder, 'notes.txt'), 'ignored');
      const s = readSource({ path: folder });
      expect(s.name).toBe('more');
      expect(s.examples.map((e) => e.text)).toEqual(['early', 'last']);
      // `cd more && sha256sum *.tsv | sha256sum`
      expect(s.sha256).toBe(
        hex(`${hex('b\tearly\n')}  m.tsv\n${hex('a\tlast\n')}  z.tsv\n`),
      );
    });

    it('rejects a missing path, another extension and a folder without .tsv files', () => {
      expect(
        message(() => readSource({ path: join(dir, 'nope.csv') })),
      ).toMatch(/nope\.csv: no such file or folder/);
      const txt = write('data.txt', 'a\tb\n');
      expect(message(() => readSource({ path: txt }))).toMatch(
        /expected a \.csv file, a \.tsv file or a folder/,
      );
      mkdirSync(join(dir, 'empty'));
      expect(message(() => readSource({ path: join(dir, 'empty') }))).toMatch(
        /no \.tsv files/,
      );
    });
  });

  describe('mergeSources', () => {
    it('keeps the first of each text (case and whitespace ignored) and counts drops per source', () => {
      const { examples, reports } = mergeSources([
        source('one', [
          ['a', 'Hello there'],
          ['a', 'hello   THERE'],
          ['b', 'HELLO there'],
          ['b', 'bye'],
        ]),
        source('two', [
          ['a', ' hello there '],
          ['b', 'Bye'],
          ['c', 'new text'],
          ['c', 'new\ttext'],
        ]),
      ]);
      expect(examples.map((e) => [e.from, e.label, e.text])).toEqual([
        [0, 'a', 'Hello there'],
        [0, 'b', 'bye'],
        [1, 'c', 'new text'],
      ]);
      expect(
        reports.map((r) => [
          r.name,
          r.rows,
          r.kept,
          r.duplicates_dropped,
          r.label_conflicts,
        ]),
      ).toEqual([
        [
          'one',
          4,
          2,
          { within_source: 2, across_sources: 0, validation: 0 },
          1,
        ],
        [
          'two',
          4,
          1,
          { within_source: 1, across_sources: 2, validation: 0 },
          0,
        ],
      ]);
    });

    it('drops texts that are in the excluded (validation) set', () => {
      const { examples, reports } = mergeSources(
        [
          source('one', [
            ['a', 'Seen In Validation'],
            ['a', 'fresh'],
          ]),
        ],
        new Set(['seen in validation']),
      );
      expect(examples.map((e) => e.text)).toEqual(['fresh']);
      expect(reports[0].duplicates_dropped.validation).toBe(1);
      expect(reports[0].kept).toBe(1);
    });
  });

  describe('loadSources', () => {
    /** A data folder with labels.txt and validation/. */
    const dataDir = (labels: string[], validation: string): string => {
      const d = join(dir, 'data');
      mkdirSync(join(d, 'validation'), { recursive: true });
      mkdirSync(join(d, 'train'), { recursive: true });
      writeFileSync(join(d, 'labels.txt'), `${labels.join('\n')}\n`);
      writeFileSync(join(d, 'validation', 'v.tsv'), validation);
      return d;
    };

    it('merges CSV and TSV sources, checks labels against labels.txt and validates on validation/', () => {
      const data = dataDir(['greet', 'bye'], 'greet\thowdy\nbye\tsee ya\n');
      const csv = write(
        'a.csv',
        'category,text\ngreet,hello\nbye,HOWDY\ngreet,hi\n',
      );
      const tsv = write('b.tsv', 'bye\tgoodbye\ngreet\thello\n');
      const loaded = loadSources({
        dataDir: data,
        sources: [{ path: csv, name: 'web', license: 'MIT' }, { path: tsv }],
        reservedLabel: 'unknown',
      });
      expect(loaded.labels).toEqual(['greet', 'bye']);
      expect(loaded.labelsFrom).toBe('labels.txt');
      expect(loaded.validationFrom).toEqual({ from: 'validation/' });
      expect(loaded.train.map((e) => e.text)).toEqual([
        'hello',
        'hi',
        'goodbye',
      ]);
      expect(loaded.validation.map((e) => e.text)).toEqual(['howdy', 'see ya']);
      expect(loaded.sources).toEqual([
        {
          name: 'web',
          license: 'MIT',
          file: 'a.csv',
          format: 'csv',
          sha256: hex('category,text\ngreet,hello\nbye,HOWDY\ngreet,hi\n'),
          rows: 3,
          kept: 2,
          duplicates_dropped: {
            within_source: 0,
            across_sources: 0,
            validation: 1,
          },
          label_conflicts: 0,
        },
        {
          name: 'b',
          license: null,
          file: 'b.tsv',
          format: 'tsv',
          sha256: hex('bye\tgoodbye\ngreet\thello\n'),
          rows: 2,
          kept: 1,
          duplicates_dropped: {
            within_source: 0,
            across_sources: 1,
            validation: 0,
          },
          label_conflicts: 0,
        },
      ]);
    });

    it('names the source, file and line of a label missing from labels.txt', () => {
      const data = dataDir(['greet'], 'greet\thowdy\n');
      const csv = write(
        'a.csv',
        'text,category\nhello,greet\n"two\nlines",oops\n',
      );
      expect(
        message(() =>
          loadSources({
            dataDir: data,
            sources: [{ path: csv, name: 'web' }],
            reservedLabel: 'unknown',
          }),
        ),
      ).toBe(
        `${csv}:3: unknown label "oops" in source "web" (not in ${join(data, 'labels.txt')}; ` +
          'pass --labels-from-data to take the labels from the training data)',
      );
    });

    it('derives sorted labels from the data with --labels-from-data, whatever their number', () => {
      const rows = Array.from(
        { length: 12 },
        (_, i) => `text number ${i},label_${String.fromCharCode(108 - i)}`,
      );
      const csv = write('a.csv', `text,category\n${rows.join('\n')}\n`);
      const loaded = loadSources({
        dataDir: join(dir, 'no-data-folder'),
        sources: [{ path: csv }],
        labelsFromData: true,
        holdout: { fraction: 0.5, seed: 1 },
        reservedLabel: 'unknown',
      });
      expect(loaded.labels).toHaveLength(12);
      expect(loaded.labels).toEqual([...loaded.labels].sort());
      expect(loaded.labels[0]).toBe('label_a');
      expect(loaded.labelsFrom).toBe('data');
    });

    it('refuses the reserved answer as a label, fewer than two labels and validation labels the data lacks', () => {
      const data = dataDir(['x'], 'greet\thowdy\nother\tnope\n');
      const reserved = write('r.csv', 'text,category\nhi,greet\n???,unknown\n');
      expect(
        message(() =>
          loadSources({
            dataDir: data,
            sources: [{ path: reserved }],
            labelsFromData: true,
            reservedLabel: 'unknown',
          }),
        ),
      ).toMatch(/r\.csv:3: "unknown" is what the service answers/);
      const single = write('s.csv', 'text,category\nhi,greet\nhey,greet\n');
      expect(
        message(() =>
          loadSources({
            dataDir: data,
            sources: [{ path: single }],
            labelsFromData: true,
            reservedLabel: 'unknown',
          }),
        ),
      ).toMatch(/has 1 label\(s\); a classifier needs at least 2/);
      const two = write('t.csv', 'text,category\nhi,greet\nbye now,bye\n');
      expect(
        message(() =>
          loadSources({
            dataDir: data,
            sources: [{ path: two }],
            labelsFromData: true,
            reservedLabel: 'unknown',
          }),
        ),
      ).toMatch(
        /v\.tsv:2: validation label "other" is not one of the training data labels/,
      );
    });

    it('refuses two sources with the same name', () => {
      const a = write('a.csv', 'text,category\nhi,x\n');
      const b = write('b.csv', 'text,category\nho,y\n');
      expect(
        message(() =>
          loadSources({
            dataDir: dir,
            sources: [
              { path: a, name: 'same' },
              { path: b, name: 'same' },
            ],
            labelsFromData: true,
            holdout: { fraction: 0.5, seed: 0 },
            reservedLabel: 'unknown',
          }),
        ),
      ).toMatch(/two sources are named "same"/);
    });

    it('holds out from the data folder train/ when no source is given', () => {
      const data = dataDir(['a', 'b'], 'a\tunused\n');
      writeFileSync(
        join(data, 'train', 't.tsv'),
        Array.from(
          { length: 10 },
          (_, i) => `${i % 2 ? 'a' : 'b'}\tline ${i}`,
        ).join('\n'),
      );
      const loaded = loadSources({
        dataDir: data,
        holdout: { fraction: 0.2, seed: 3 },
        reservedLabel: 'unknown',
      });
      expect(loaded.sources.map((s) => [s.name, s.rows])).toEqual([
        ['train', 10],
      ]);
      expect(loaded.train).toHaveLength(8);
      expect(loaded.validation.map((e) => e.label).sort()).toEqual(['a', 'b']);
      expect(loaded.validationFrom).toEqual({
        from: 'holdout',
        fraction: 0.2,
        seed: 3,
        stratified_by: 'label',
      });
    });
  });

  describe('loadSources: hold-out from named sources', () => {
    /** `n` rows of each label, as CSV text. */
    const rows = (prefix: string, labels: string[], n: number): string =>
      `text,category\n${labels
        .flatMap((l) =>
          Array.from({ length: n }, (_, i) => `${prefix} ${l} ${i},${l}`),
        )
        .join('\n')}\n`;

    const load = (holdoutSources?: string[]) =>
      loadSources({
        dataDir: join(dir, 'no-data-folder'),
        sources: [
          { path: write('real.csv', rows('real', ['a', 'b'], 10)) },
          { path: write('written.csv', rows('written', ['a', 'b'], 4)) },
        ],
        labelsFromData: true,
        holdout: { fraction: 0.2, seed: 5, sources: holdoutSources },
        reservedLabel: 'unknown',
      });

    it("validates only on the named sources' examples; the other sources all train", () => {
      const loaded = load(['real']);
      expect(loaded.validation).toHaveLength(4);
      expect(loaded.validation.every((e) => e.text.startsWith('real '))).toBe(
        true,
      );
      expect(loaded.validation.map((e) => e.label).sort()).toEqual([
        'a',
        'a',
        'b',
        'b',
      ]);
      expect(loaded.train).toHaveLength(16 + 8);
      expect(
        loaded.train.filter((e) => e.text.startsWith('written ')),
      ).toHaveLength(8);
      // Nothing lost or doubled, and the merged order is kept.
      expect(
        [...loaded.train, ...loaded.validation].map((e) => e.text).sort(),
      ).toEqual(
        [...load().train, ...load().validation].map((e) => e.text).sort(),
      );
      const texts = loaded.train.map((e) => e.text);
      expect(texts.slice(-8).every((t) => t.startsWith('written '))).toBe(true);
      expect(loaded.validationFrom).toEqual({
        from: 'holdout',
        fraction: 0.2,
        seed: 5,
        stratified_by: 'label',
        sources: ['real'],
      });
    });

    it('picks the same validation examples as splitting the named source alone', () => {
      const alone = holdoutSplit(
        readSource({ path: write('real.csv', rows('real', ['a', 'b'], 10)) })
          .examples,
        0.2,
        5,
      );
      expect(load(['real']).validation.map((e) => e.text)).toEqual(
        alone.validation.map((e) => e.text),
      );
    });

    it('splits every source without a list, and records no source list', () => {
      const loaded = load();
      // 14 of each label: round(2.8) = 3 held out each, from both sources.
      expect(loaded.validation).toHaveLength(6);
      expect(loaded.train).toHaveLength(22);
      expect(loaded.validationFrom).not.toHaveProperty('sources');
    });

    it('may name every source, which is the same split as naming none', () => {
      const all = load(['written', 'real']);
      expect(all.validation).toEqual(load().validation);
      expect(all.train).toEqual(load().train);
      expect(all.validationFrom).toMatchObject({
        sources: ['written', 'real'],
      });
    });

    it('records a copy of the list', () => {
      const names = ['real'];
      const loaded = load(names);
      names.push('written');
      expect(loaded.validationFrom).toMatchObject({ sources: ['real'] });
    });

    it('names the known sources when a name matches none', () => {
      expect(message(() => load(['real', 'Written']))).toBe(
        '--holdout-from Written: no source has that name (sources: real, written)',
      );
    });

    it('can name the data folder\'s train/ (source "train") when no source is given', () => {
      const data = join(dir, 'data');
      mkdirSync(join(data, 'train'), { recursive: true });
      writeFileSync(join(data, 'labels.txt'), 'a\nb\n');
      writeFileSync(
        join(data, 'train', 't.tsv'),
        Array.from(
          { length: 10 },
          (_, i) => `${i % 2 ? 'a' : 'b'}\tline ${i}`,
        ).join('\n'),
      );
      const loaded = loadSources({
        dataDir: data,
        holdout: { fraction: 0.2, seed: 3, sources: ['train'] },
        reservedLabel: 'unknown',
      });
      expect(loaded.validation).toHaveLength(2);
      expect(
        message(() =>
          loadSources({
            dataDir: data,
            holdout: { fraction: 0.2, seed: 3, sources: ['t'] },
            reservedLabel: 'unknown',
          }),
        ),
      ).toMatch(/--holdout-from t: no source has that name \(sources: train\)/);
    });
  });

  describe('loadSources: reject labels', () => {
    const dataDir = (
      labels: string[],
      validation = 'greet\thowdy\n',
    ): string => {
      const d = join(dir, 'data');
      mkdirSync(join(d, 'validation'), { recursive: true });
      writeFileSync(join(d, 'labels.txt'), `${labels.join('\n')}\n`);
      writeFileSync(join(d, 'validation', 'v.tsv'), validation);
      return d;
    };
    const csv = (rows: Array<[string, string]>): string =>
      write(
        'train.csv',
        `text,category\n${rows.map(([label, text]) => `${text},${label}`).join('\n')}\n`,
      );
    const TRAIN: Array<[string, string]> = [
      ['greet', 'hello'],
      ['bye', 'goodbye'],
      ['oos', 'what is the capital of France'],
      ['oos', 'tell me a joke'],
    ];

    it('appends the reject labels after those of labels.txt and accepts their examples', () => {
      const data = dataDir(
        ['greet', 'bye'],
        'greet\thowdy\noos\twhat time is it\n',
      );
      const loaded = loadSources({
        dataDir: data,
        sources: [{ path: csv(TRAIN) }],
        reservedLabel: 'unknown',
        rejectLabels: ['oos'],
      });
      expect(loaded.labels).toEqual(['greet', 'bye', 'oos']);
      expect(loaded.labelsFrom).toBe('labels.txt');
      expect(loaded.train.map((e) => e.label)).toEqual([
        'greet',
        'bye',
        'oos',
        'oos',
      ]);
      // validation/ may hold out-of-scope rows too.
      expect(loaded.validation.map((e) => e.label)).toEqual(['greet', 'oos']);
      // Without --reject-label the same examples have a label labels.txt lacks.
      expect(
        message(() =>
          loadSources({
            dataDir: data,
            sources: [{ path: csv(TRAIN) }],
            reservedLabel: 'unknown',
          }),
        ),
      ).toMatch(/unknown label "oos"/);
    });

    it('appends several reject labels in the order given', () => {
      const loaded = loadSources({
        dataDir: dataDir(['greet', 'bye']),
        sources: [
          {
            path: csv([
              ...TRAIN,
              ['chitchat', 'how are you'],
              ['chitchat', 'nice day'],
            ]),
          },
        ],
        reservedLabel: 'unknown',
        rejectLabels: ['oos', 'chitchat'],
      });
      expect(loaded.labels).toEqual(['greet', 'bye', 'oos', 'chitchat']);
    });

    it('keeps them among the sorted labels with --labels-from-data', () => {
      const loaded = loadSources({
        dataDir: join(dir, 'none'),
        sources: [
          { path: csv([...TRAIN, ['greet', 'hi'], ['bye', 'bye bye']]) },
        ],
        labelsFromData: true,
        holdout: { fraction: 0.5, seed: 1 },
        reservedLabel: 'unknown',
        rejectLabels: ['oos'],
      });
      expect(loaded.labels).toEqual(['bye', 'greet', 'oos']);
      expect(loaded.labelsFrom).toBe('data');
      // Held out like any label: 1 of 2 each.
      expect(loaded.validation.map((e) => e.label).sort()).toEqual([
        'bye',
        'greet',
        'oos',
      ]);
    });

    it('refuses a reject label that labels.txt already has', () => {
      const data = dataDir(['greet', 'bye', 'oos']);
      expect(
        message(() =>
          loadSources({
            dataDir: data,
            sources: [{ path: csv(TRAIN) }],
            reservedLabel: 'unknown',
            rejectLabels: ['oos'],
          }),
        ),
      ).toBe(
        `reject label "oos" is one of ${join(data, 'labels.txt')}'s intents`,
      );
    });

    it('refuses the reserved answer as a reject label, with or without examples', () => {
      for (const rows of [
        TRAIN,
        [...TRAIN, ['unknown', 'blah'] as [string, string]],
      ])
        expect(
          message(() =>
            loadSources({
              dataDir: dataDir(['greet', 'bye', 'oos']),
              sources: [{ path: csv(rows) }],
              reservedLabel: 'unknown',
              rejectLabels: ['unknown'],
            }),
          ),
        ).toBe(
          '"unknown" is what the service answers below the threshold; name the reject class otherwise',
        );
      // With --labels-from-data the reserved label cannot even be a class.
      expect(
        message(() =>
          loadSources({
            dataDir: join(dir, 'none'),
            sources: [{ path: csv([...TRAIN, ['unknown', 'blah']]) }],
            labelsFromData: true,
            holdout: { fraction: 0.5, seed: 1 },
            reservedLabel: 'unknown',
            rejectLabels: ['unknown'],
          }),
        ),
      ).toMatch(/"unknown" is what the service answers/);
    });

    it('refuses a reject label without training examples', () => {
      const expected = 'reject label "chitchat" has no training examples';
      expect(
        message(() =>
          loadSources({
            dataDir: dataDir(['greet', 'bye']),
            sources: [{ path: csv(TRAIN) }],
            reservedLabel: 'unknown',
            rejectLabels: ['oos', 'chitchat'],
          }),
        ),
      ).toBe(expected);
      expect(
        message(() =>
          loadSources({
            dataDir: join(dir, 'none'),
            sources: [{ path: csv(TRAIN) }],
            labelsFromData: true,
            holdout: { fraction: 0.5, seed: 1 },
            reservedLabel: 'unknown',
            rejectLabels: ['chitchat'],
          }),
        ),
      ).toBe(expected);
    });

    it('counts only the examples left after dropping validation and excluded texts', () => {
      // Both out-of-scope training texts are validation or evaluation texts.
      expect(
        message(() =>
          loadSources({
            dataDir: dataDir(
              ['greet', 'bye'],
              'oos\tWhat is the capital of  France\n',
            ),
            sources: [{ path: csv(TRAIN) }],
            reservedLabel: 'unknown',
            rejectLabels: ['oos'],
            exclude: [
              { label: 'oos', text: 'TELL me a joke', source: 'eval.tsv:1' },
            ],
          }),
        ),
      ).toBe('reject label "oos" has no training examples');
    });

    it('needs at least two labels besides the reject labels', () => {
      const expected = 'at least 2 labels besides the reject labels are needed';
      expect(
        message(() =>
          loadSources({
            dataDir: dataDir(['greet']),
            sources: [{ path: csv(TRAIN.filter(([l]) => l !== 'bye')) }],
            reservedLabel: 'unknown',
            rejectLabels: ['oos'],
          }),
        ),
      ).toBe(expected);
      expect(
        message(() =>
          loadSources({
            dataDir: dataDir(['greet']),
            sources: [
              {
                path: csv([
                  ...TRAIN.filter(([l]) => l !== 'bye'),
                  ['chitchat', 'how are you'],
                ]),
              },
            ],
            reservedLabel: 'unknown',
            rejectLabels: ['oos', 'chitchat'],
          }),
        ),
      ).toBe(expected);
      expect(
        message(() =>
          loadSources({
            dataDir: join(dir, 'none'),
            sources: [{ path: csv(TRAIN.filter(([l]) => l !== 'bye')) }],
            labelsFromData: true,
            holdout: { fraction: 0.5, seed: 1 },
            reservedLabel: 'unknown',
            rejectLabels: ['oos'],
          }),
        ),
      ).toBe(expected);
      // Two intents and two reject classes are enough.
      expect(
        loadSources({
          dataDir: dataDir(['greet', 'bye']),
          sources: [{ path: csv([...TRAIN, ['chitchat', 'how are you']]) }],
          reservedLabel: 'unknown',
          rejectLabels: ['oos', 'chitchat'],
        }).labels,
      ).toEqual(['greet', 'bye', 'oos', 'chitchat']);
    });
  });

  describe('loadSources: excluded (evaluation) texts', () => {
    const exclude: Example[] = [
      { label: 'a', text: '  Evaluate   ME ', source: 'eval.tsv:1' },
      { label: 'b', text: 'also evaluated', source: 'eval.tsv:2' },
      { label: 'b', text: 'never in any source', source: 'eval.tsv:3' },
    ];
    const trainCsv = (): string =>
      write(
        'train.csv',
        [
          'text,category',
          'evaluate me,a',
          'keep one,a',
          'EVALUATE ME,a',
          'keep two,b',
          'also evaluated,a',
          'keep three,b',
          'keep four,a',
          'keep five,b',
        ].join('\n'),
      );

    it('never trains on them and counts them with the validation duplicates', () => {
      const data = join(dir, 'data');
      mkdirSync(join(data, 'validation'), { recursive: true });
      writeFileSync(join(data, 'labels.txt'), 'a\nb\n');
      writeFileSync(
        join(data, 'validation', 'v.tsv'),
        'a\tkeep one\nb\tnot trained\n',
      );
      const loaded = loadSources({
        dataDir: data,
        sources: [{ path: trainCsv() }],
        reservedLabel: 'unknown',
        exclude,
      });
      expect(loaded.train.map((e) => e.text)).toEqual([
        'keep two',
        'keep three',
        'keep four',
        'keep five',
      ]);
      // The excluded texts are not added to validation.
      expect(loaded.validation.map((e) => e.text)).toEqual([
        'keep one',
        'not trained',
      ]);
      // 3 evaluation texts (a repeat counts each time) + 1 validation text.
      expect(loaded.sources[0]).toMatchObject({
        rows: 8,
        kept: 4,
        duplicates_dropped: {
          within_source: 0,
          across_sources: 0,
          validation: 4,
        },
        label_conflicts: 0,
      });
    });

    it('keeps them out of both parts of a hold-out split', () => {
      const loaded = loadSources({
        dataDir: join(dir, 'none'),
        sources: [{ path: trainCsv() }],
        labelsFromData: true,
        holdout: { fraction: 0.25, seed: 2 },
        reservedLabel: 'unknown',
        exclude,
      });
      const all = [...loaded.train, ...loaded.validation].map((e) => e.text);
      expect(all.sort()).toEqual([
        'keep five',
        'keep four',
        'keep one',
        'keep three',
        'keep two',
      ]);
      expect(loaded.sources[0].duplicates_dropped.validation).toBe(3);
      expect(loaded.sources[0].kept).toBe(5);
    });

    it('changes nothing when empty', () => {
      const options = {
        dataDir: join(dir, 'none'),
        sources: [{ path: trainCsv() }],
        labelsFromData: true,
        holdout: { fraction: 0.25, seed: 2 },
        reservedLabel: 'unknown',
      };
      expect(loadSources({ ...options, exclude: [] })).toEqual(
        loadSources(options),
      );
    });
  });

  describe('hold-out split', () => {
    const examples: Example[] = [];
    const sizes: Record<string, number> = {
      alpha: 20,
      beta: 7,
      gamma: 2,
      delta: 1,
    };
    for (const [label, n] of Object.entries(sizes))
      for (let i = 0; i < n; i++)
        examples.push({
          label,
          text: `${label} example ${i}`,
          source: `x:${examples.length}`,
        });

    const validationTexts = (
      input: readonly Example[],
      seed: number,
    ): string[] =>
      holdoutSplit(input, 0.25, seed)
        .validation.map((e) => e.text)
        .sort();

    it('takes round(n * fraction) of every label, at least one and never all', () => {
      expect([1, 2, 7, 20].map((n) => holdoutCount(n, 0.25))).toEqual([
        0, 1, 2, 5,
      ]);
      expect(holdoutCount(3, 0.01)).toBe(1);
      expect(holdoutCount(3, 0.99)).toBe(2);
      const { train, validation } = holdoutSplit(examples, 0.25, 42);
      const count = (xs: Example[], label: string): number =>
        xs.filter((e) => e.label === label).length;
      expect(Object.keys(sizes).map((l) => count(validation, l))).toEqual([
        5, 2, 1, 0,
      ]);
      expect(Object.keys(sizes).map((l) => count(train, l))).toEqual([
        15, 5, 1, 1,
      ]);
      expect(new Set([...train, ...validation]).size).toBe(examples.length);
    });

    it('keeps the input order within each part', () => {
      const { train, validation } = holdoutSplit(examples, 0.25, 42);
      const position = (e: Example): number => examples.indexOf(e);
      for (const part of [train, validation])
        expect(part.map(position)).toEqual(
          [...part.map(position)].sort((a, b) => a - b),
        );
    });

    it('is the same for the same seed whatever the input order, and changes with the seed', () => {
      const reversed = [...examples].reverse();
      expect(validationTexts(reversed, 42)).toEqual(
        validationTexts(examples, 42),
      );
      expect(validationTexts(examples, 43)).not.toEqual(
        validationTexts(examples, 42),
      );
    });

    it("does not move one label's split when another label's examples change", () => {
      const alpha = (input: readonly Example[]): string[] =>
        validationTexts(input, 9).filter((t) => t.startsWith('alpha'));
      const fewer = examples.filter((e) => e.label !== 'beta');
      expect(alpha(fewer)).toEqual(alpha(examples));
    });

    it('pins the seeded choice so it stays the same across machines and versions', () => {
      expect(
        validationTexts(examples, 42).filter((t) => t.startsWith('alpha')),
      ).toEqual(PINNED_ALPHA_SEED_42);
    });

    it('rejects fractions outside (0, 1)', () => {
      for (const f of [0, 1, -0.1, Number.NaN])
        expect(() => holdoutSplit(examples, f, 0)).toThrow(RangeError);
    });
  });

  describe('mulberry32', () => {
    it('gives the same sequence for a seed, different ones for other seeds, all in [0, 1)', () => {
      const draw = (seed: number): number[] => {
        const random = mulberry32(seed);
        return Array.from({ length: 1000 }, () => random());
      };
      const a = draw(1);
      expect(draw(1)).toEqual(a);
      expect(draw(2)).not.toEqual(a);
      expect(a.every((x) => x >= 0 && x < 1)).toBe(true);
      const mean = a.reduce((s, x) => s + x, 0) / a.length;
      expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
      expect(a.slice(0, 3).map((x) => Math.floor(x * 2 ** 32))).toEqual(
        PINNED_MULBERRY_1,
      );
    });
  });
});

// Computed by an independent Python transcription of mulberry32, FNV-1a and the split.
const PINNED_ALPHA_SEED_42 = [
  'alpha example 10',
  'alpha example 13',
  'alpha example 2',
  'alpha example 3',
  'alpha example 5',
];
const PINNED_MULBERRY_1 = [2693262067, 11749833, 2265367787];
