import { join, resolve } from 'node:path';
import { formatTable } from './artifacts';
import {
  expandShipped,
  parseCli,
  parseSourceArgument,
  UsageError,
} from './cli';
import { BANKING77_LICENSE, shippedArguments, SHIPPED_VERSION } from './recipe';

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
      rejectLabels: [],
      evaluate: [],
      typoCopies: 0,
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
    [['--holdout-from', 'a'], /--holdout-from only applies to --holdout/],
    [
      ['--holdout-from', 'a', '--source', 'a.csv'],
      /--holdout-from only applies to --holdout/,
    ],
    [['--holdout', '0.2', '--holdout-from'], /argument missing/],
    [['--reject-label', ''], /--reject-label "": empty or given twice/],
    [['--reject-label', '  '], /--reject-label " {2}": empty or given twice/],
    [
      [
        '--reject-label',
        'oos',
        '--reject-label',
        'chat',
        '--reject-label',
        'oos',
      ],
      /--reject-label "oos": empty or given twice/,
    ],
    [
      ['--typo-copies', '11'],
      /--typo-copies must be an integer from 0 to 10, got "11"/,
    ],
    [['--typo-copies', '-1'], /'--typo-copies' argument is ambiguous/],
    [['--typo-copies=-1'], /--typo-copies must be an integer/],
    [['--typo-copies', '1.5'], /--typo-copies must be an integer/],
    [['--typo-copies', 'two'], /--typo-copies must be an integer/],
    [['--typo-copies', 'Infinity'], /--typo-copies must be an integer/],
    [['--typo-copies', ''], /--typo-copies must be an integer/],
    [['--typo-copies', ' '], /--typo-copies must be an integer/],
    [['--evaluate', ',name=x'], /no path/],
    [['--evaluate', 'v.tsv,name='], /empty name/],
    [['--evaluate', 'v.tsv,name=a,name=b'], /name given twice/],
    [['--sauce', 'a.csv'], /Unknown option '--sauce'/],
  ])('rejects %j', (args, expected) => {
    expect(usageError(() => parseCli(args, DEFAULTS))).toMatch(expected);
  });
});

describe('parseCli: reject labels, hold-out sources, evaluation sets, typo copies', () => {
  it('collects repeated --holdout-from names in order (with --holdout)', () => {
    expect(
      parseCli(
        [
          '--holdout-from',
          'banking77',
          '--holdout',
          '0.1',
          '--seed',
          '7',
          '--holdout-from',
          'written',
        ],
        DEFAULTS,
      ).holdout,
    ).toEqual({ fraction: 0.1, seed: 7, sources: ['banking77', 'written'] });
    // Without --holdout-from there is no source list at all.
    expect(parseCli(['--holdout', '0.1'], DEFAULTS).holdout).not.toHaveProperty(
      'sources',
    );
  });

  it('collects repeated --reject-label values in order', () => {
    expect(
      parseCli(
        ['--reject-label', 'out_of_scope', '--reject-label=chitchat'],
        DEFAULTS,
      ).rejectLabels,
    ).toEqual(['out_of_scope', 'chitchat']);
  });

  it('parses repeated --evaluate sets like sources (path with an optional name)', () => {
    expect(
      parseCli(
        [
          '--evaluate',
          'data/validation,name=written-validation',
          '--evaluate',
          'oos/validation.tsv',
        ],
        DEFAULTS,
      ).evaluate,
    ).toEqual([
      { path: 'data/validation', name: 'written-validation' },
      { path: 'oos/validation.tsv' },
    ]);
  });

  it('keeps --evaluate sets out of the training sources and out of --source-name', () => {
    const options = parseCli(
      ['--source', 'a.csv', '--evaluate', 'v.tsv', '--source-name', 'mine'],
      DEFAULTS,
    );
    expect(options.sources).toEqual([{ path: 'a.csv', name: 'mine' }]);
    expect(options.evaluate).toEqual([{ path: 'v.tsv' }]);
  });

  it.each([
    ['0', 0],
    ['1', 1],
    ['10', 10],
    ['02', 2],
  ])('accepts --typo-copies %j', (value, expected) => {
    expect(parseCli(['--typo-copies', value], DEFAULTS).typoCopies).toBe(
      expected,
    );
  });

  it('needs none of them with --holdout, and none needs --holdout but --holdout-from', () => {
    const options = parseCli(
      ['--reject-label', 'oos', '--evaluate', 'v.tsv', '--typo-copies', '2'],
      DEFAULTS,
    );
    expect(options.holdout).toBeUndefined();
    expect(options.rejectLabels).toEqual(['oos']);
    expect(options.typoCopies).toBe(2);
  });
});

describe('expandShipped', () => {
  const dataDir = '/repo/tools/intent-trainer/data';

  it('returns other command lines unchanged (a copy)', () => {
    const args = ['--source', 'a.csv', '--banking77', 'x'];
    const expanded = expandShipped(args, { dataDir });
    expect(expanded).toEqual(args);
    expect(expanded).not.toBe(args);
    expect(expandShipped([], { dataDir })).toEqual([]);
  });

  it("stands for the recipe's options, with the default data folder", () => {
    expect(
      expandShipped(['--shipped', '--banking77', 'downloads/b77'], {
        dataDir,
      }),
    ).toEqual(shippedArguments(resolve('downloads/b77'), resolve(dataDir)));
  });

  it('takes --shipped anywhere and keeps --data and --out (the data folder feeds the recipe)', () => {
    expect(
      expandShipped(
        [
          '--out',
          '/tmp/models',
          '--banking77',
          '/b77',
          '--data',
          'my/data',
          '--shipped',
        ],
        { dataDir },
      ),
    ).toEqual([
      ...shippedArguments('/b77', resolve('my/data')),
      '--out',
      '/tmp/models',
      '--data',
      'my/data',
    ]);
  });

  it('parses into the shipped options', () => {
    const options = parseCli(
      expandShipped(['--shipped', '--banking77', '/b77', '--out', '/o'], {
        dataDir,
      }),
      { dataDir, outDir: '/default-out' },
    );
    expect(options).toEqual({
      help: false,
      dataDir: resolve(dataDir),
      outDir: resolve('/o'),
      version: SHIPPED_VERSION,
      sources: [
        {
          path: join('/b77', 'train.csv'),
          name: 'banking77',
          // The license holds commas; it stays one value.
          license: BANKING77_LICENSE,
        },
        {
          path: join(dataDir, 'out-of-scope', 'train.tsv'),
          name: 'out-of-scope',
          license: 'ml-services (written for this repo)',
        },
      ],
      labelsFromData: false,
      holdout: { fraction: 0.1, seed: 7, sources: ['banking77'] },
      rejectLabels: ['out_of_scope'],
      evaluate: [
        { path: join(dataDir, 'validation'), name: 'written-validation' },
        {
          path: join(dataDir, 'out-of-scope', 'validation.tsv'),
          name: 'out-of-scope-validation',
        },
        {
          path: join(dataDir, 'out-of-scope', 'assistant-probe.tsv'),
          name: 'assistant-probe',
        },
        {
          path: join(dataDir, 'out-of-scope', 'general-probe.tsv'),
          name: 'general-probe',
        },
      ],
      typoCopies: 4,
    });
  });

  it.each([
    [['--shipped'], /--shipped needs --banking77 <dir>/],
    [['--shipped', '--data', 'd'], /--shipped needs --banking77 <dir>/],
    [['--shipped', '--banking77'], /--banking77 needs a value/],
    [['--shipped', '--banking77', '--out', 'o'], /--banking77 needs a value/],
    [['--shipped', '--banking77', 'b', '--out'], /--out needs a value/],
    [
      ['--shipped', '--banking77', 'b', '--data', '--out', 'o'],
      /--data needs a value/,
    ],
    [
      ['--shipped', '--banking77', 'b', '--version', '9.9.9'],
      /--shipped takes only --banking77, --data and --out \(got --version\)/,
    ],
    [
      ['--shipped', '--banking77', 'b', '--typo-copies', '0'],
      /\(got --typo-copies\)/,
    ],
    [
      ['--shipped', '--banking77', 'b', '--source', 'x.csv'],
      /\(got --source\)/,
    ],
    [['--shipped', '--banking77', 'b', 'stray'], /\(got stray\)/],
  ])('rejects %j', (args, expected) => {
    expect(usageError(() => expandShipped(args, { dataDir }))).toMatch(
      expected,
    );
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
