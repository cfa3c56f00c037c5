import { resolve } from 'node:path';
import { formatTable } from './artifacts';
import { parseCli, parseSourceArgument, UsageError } from './cli';

const DEFAULTS = { dataDir: '/repo/data', outDir: '/repo/models' };

function usageError(call: () => unknown): string {
  try {
    call();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseSourceArgument', () => {
  it('takes a bare path', () => {
    expect(parseSourceArgument('data/a.csv')).toEqual({ path: 'data/a.csv' });
  });

  it('reads name and license suffixes in either order; a license may contain commas', () => {
    expect(
      parseSourceArgument(
        'b77.csv,name=banking77,license=CC BY 4.0, with attribution',
      ),
    ).toEqual({
      path: 'b77.csv',
      name: 'banking77',
      license: 'CC BY 4.0, with attribution',
    });
    expect(parseSourceArgument('dir,with,commas,license=MIT,name=x')).toEqual({
      path: 'dir,with,commas',
      name: 'x',
      license: 'MIT',
    });
  });

  it('rejects an empty path, an empty value and a repeated key', () => {
    expect(usageError(() => parseSourceArgument(',name=x'))).toMatch(/no path/);
    expect(usageError(() => parseSourceArgument('a.csv,name='))).toMatch(
      /empty name/,
    );
    expect(
      usageError(() => parseSourceArgument('a.csv,name=x,name=y')),
    ).toMatch(/name given twice/);
  });
});

describe('parseCli', () => {
  it('keeps the defaults without options (the data folder as always)', () => {
    expect(parseCli([], DEFAULTS)).toEqual({
      help: false,
      dataDir: resolve('/repo/data'),
      outDir: resolve('/repo/models'),
      version: '1.0.0',
      sources: [],
      labelsFromData: false,
      holdout: undefined,
    });
  });

  it('attaches --source-name and --source-license to the --source before them', () => {
    const options = parseCli(
      [
        '--source',
        'a.csv',
        '--source-name',
        'banking77',
        '--source-license',
        'CC BY 4.0',
        '--source',
        'extra.tsv,license=internal',
        '--source-name',
        'extra',
        '--source',
        'folder',
        '--labels-from-data',
        '--holdout',
        '0.2',
        '--seed',
        '7',
      ],
      DEFAULTS,
    );
    expect(options.sources).toEqual([
      { path: 'a.csv', name: 'banking77', license: 'CC BY 4.0' },
      { path: 'extra.tsv', name: 'extra', license: 'internal' },
      { path: 'folder' },
    ]);
    expect(options.labelsFromData).toBe(true);
    expect(options.holdout).toEqual({ fraction: 0.2, seed: 7 });
  });

  it('defaults the hold-out seed to 0', () => {
    expect(parseCli(['--holdout', '0.1'], DEFAULTS).holdout).toEqual({
      fraction: 0.1,
      seed: 0,
    });
  });

  it.each([
    [['--source-name', 'x'], /must follow the --source/],
    [['--source', 'a.csv,name=x', '--source-name', 'y'], /name given twice/],
    [['--source', 'a.csv', '--source-license', ' '], /empty value/],
    [['--holdout', '1'], /--holdout must be a fraction/],
    [['--holdout', 'abc'], /--holdout must be a fraction/],
    [['--holdout', '0.2', '--seed=-1'], /--seed must be an integer/],
    [['--holdout', '0.2', '--seed', '1.5'], /--seed must be an integer/],
    [['--holdout', '0.2', '--seed', ''], /--seed must be an integer/],
    [['--seed', '3'], /--seed only applies to --holdout/],
    [['--sauce', 'a.csv'], /Unknown option '--sauce'/],
  ])('rejects %j', (args, expected) => {
    expect(usageError(() => parseCli(args, DEFAULTS))).toMatch(expected);
  });
});

describe('formatTable', () => {
  it('pads columns, right-aligns all-number columns and rules the header', () => {
    expect(
      formatTable([
        ['source', 'rows', 'note'],
        ['banking77', '10003', 'a'],
        ['x', '7', '12%'],
      ]),
    ).toBe(
      [
        'source      rows  note',
        '---------  -----  ----',
        'banking77  10003  a',
        `x${' '.repeat(14)}7  12%`,
      ].join('\n'),
    );
  });
});
