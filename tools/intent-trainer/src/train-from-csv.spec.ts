import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Manifest } from './manifest';
import { runTrainer } from './testing/trainer-process';
import { C_CANDIDATES } from './trainer';

/** The trainer's command in a child process, its exit code and output. */
async function trainer(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await runTrainer(args);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** 15 made-up examples for each of four made-up intents, as CSV with an extra id column. */
function tinyCsv(): string {
  const intents: Record<string, { verbs: string[]; things: string[] }> = {
    order_pizza: {
      verbs: ['order', 'get me', 'deliver'],
      things: [
        'a pizza',
        'a margherita',
        'pepperoni slices',
        'a calzone',
        'garlic bread',
      ],
    },
    book_flight: {
      verbs: ['book', 'reserve', 'find'],
      things: [
        'a flight to Rome',
        'a plane ticket',
        'an airline seat',
        'a return flight',
        'a red-eye',
      ],
    },
    play_music: {
      verbs: ['play', 'put on', 'queue'],
      things: [
        'some jazz',
        'my playlist',
        'the new album',
        'a rock song',
        'relaxing piano',
      ],
    },
    weather_today: {
      verbs: ['is it going to', 'will it', 'does the forecast say it will'],
      things: [
        'rain today',
        'snow this afternoon',
        'be sunny',
        'be windy tonight',
        'be cold outside',
      ],
    },
  };
  const lines = ['id,text,category'];
  for (const [label, { verbs, things }] of Object.entries(intents))
    for (const verb of verbs)
      for (const thing of things) {
        const text = `please ${verb} ${thing}, thanks`;
        lines.push(`${lines.length},"${text.replace(/"/g, '""')}",${label}`);
      }
  return `${lines.join('\r\n')}\r\n`;
}

describe('training from a CSV file with labels from the data', () => {
  let dir: string;
  let csvPath: string;
  let tsvPath: string;
  let csv: string;
  const tsv =
    'play_music\tPLEASE play   some jazz, thanks\nplay_music\thum a tune for me\n';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'intent-train-csv-'));
    csv = tinyCsv();
    csvPath = join(dir, 'made-up.csv');
    tsvPath = join(dir, 'extra.tsv');
    writeFileSync(csvPath, csv);
    writeFileSync(tsvPath, tsv);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a working model whose manifest records the labels, the sources and the split, the same bytes on every run', async () => {
    const out = (n: number): string => join(dir, `out-${n}`);
    const args = (n: number): string[] => [
      '--source',
      `${csvPath},name=made-up,license=CC0 1.0`,
      '--source',
      tsvPath,
      '--source-license',
      'internal',
      '--labels-from-data',
      '--holdout',
      '0.2',
      '--seed',
      '11',
      '--out',
      out(n),
      '--version',
      '0.1.0',
    ];
    const first = await trainer(args(1));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const modelDir = join(out(1), '0.1.0');
    const manifest = JSON.parse(
      readFileSync(join(modelDir, 'manifest.json'), 'utf8'),
    ) as Manifest;

    expect(manifest.labels).toEqual([
      'book_flight',
      'order_pizza',
      'play_music',
      'weather_today',
    ]);
    expect(manifest.outputs[0].shape).toEqual([-1, 4]);
    expect(manifest.sources).toEqual([
      {
        name: 'made-up',
        license: 'CC0 1.0',
        file: 'made-up.csv',
        format: 'csv',
        sha256: createHash('sha256').update(csv).digest('hex'),
        rows: 60,
        kept: 60,
        duplicates_dropped: {
          within_source: 0,
          across_sources: 0,
          validation: 0,
        },
        label_conflicts: 0,
      },
      {
        name: 'extra',
        license: 'internal',
        file: 'extra.tsv',
        format: 'tsv',
        sha256: createHash('sha256').update(tsv).digest('hex'),
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
    expect(manifest.training.labels_from).toBe('data');
    expect(manifest.training.validation).toEqual({
      from: 'holdout',
      fraction: 0.2,
      seed: 11,
      stratified_by: 'label',
    });
    // 15 per label (16 for play_music): 3 of each held out.
    expect(manifest.evaluation.validation.examples).toBe(12);
    expect(manifest.training.examples).toBe(49);
    expect(manifest.training.per_label).toEqual({
      book_flight: 12,
      order_pizza: 12,
      play_music: 13,
      weather_today: 12,
    });
    expect(manifest.evaluation.validation.accuracy).toBeGreaterThanOrEqual(
      0.75,
    );

    const model = readFileSync(join(modelDir, 'model.onnx'));
    expect(manifest.sha256).toBe(
      createHash('sha256').update(model).digest('hex'),
    );
    expect(onnx.ModelProto.decode(model).docString).toBe(
      'intent classifier (4 labels from made-up, extra): text [N] -> probabilities [N, labels].',
    );
    const session = await InferenceSession.create(model);
    try {
      const result = await session.run({
        text: new Tensor('string', ['could you book me a flight to Rome'], [1]),
      });
      const p = Array.from(result['probabilities'].data as Float32Array);
      expect(p).toHaveLength(4);
      expect(p.indexOf(Math.max(...p))).toBe(0);
    } finally {
      await session.release();
    }

    // Progress phases, iteration lines and the summary.
    for (const phase of [
      'reading training data',
      'vocabulary:',
      'features:',
      `fitting C=${C_CANDIDATES[0]}`,
      'threshold:',
      `writing ${modelDir}`,
    ])
      expect(first.stdout).toContain(phase);
    expect(first.stdout).toMatch(
      new RegExp(`C=${C_CANDIDATES[0]} iteration 10: loss \\d`),
    );
    expect(first.stdout).toMatch(/^made-up\s+CC0 1\.0\s+60\s+60\s+0\s+0\s+0$/m);
    expect(first.stdout).toMatch(
      /^validation examples\s+12 \(hold-out 0\.2, seed 11\)$/m,
    );
    expect(first.stdout).toContain(`wrote ${modelDir}`);

    const second = await trainer(args(2));
    expect(second.code).toBe(0);
    for (const file of ['model.onnx', 'manifest.json'])
      expect(
        readFileSync(join(out(2), '0.1.0', file)).equals(
          readFileSync(join(modelDir, file)),
        ),
      ).toBe(true);
  }, 120_000);

  it('stops with the source and line of a label missing from labels.txt', async () => {
    const { code, stderr } = await trainer([
      '--source',
      csvPath,
      '--out',
      join(dir, 'never'),
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `${csvPath}:2: unknown label "order_pizza" in source "made-up"`,
    );
  }, 60_000);

  it('prints the usage for a bad option', async () => {
    const { code, stderr } = await trainer(['--holdout', '2']);
    expect(code).toBe(2);
    expect(stderr).toContain('--holdout must be a fraction');
    expect(stderr).toContain('--source <path>');
  }, 60_000);
});

/** Out-of-scope questions for a reject class. */
const OUT_OF_SCOPE = [
  'tell me a joke',
  'what is the capital of France',
  'who won the football match yesterday',
  'how tall is Mount Everest',
  'what is the meaning of life',
  'translate hello into Spanish',
  'how many legs does a spider have',
  'recommend a good novel to read',
  'what is two plus two',
  'who painted the Mona Lisa',
  'how do I bake sourdough bread',
  'what time is it in Tokyo',
];

describe('training with a reject class, hold-out from one source, evaluation sets and typo copies', () => {
  let dir: string;
  let manifest: Manifest;
  let model: Buffer;
  let stdout: string;
  const inScopeEval = [
    // Case and whitespace variants of four made-up.csv rows, one per intent: never trained on.
    'order_pizza\tPLEASE order a pizza, thanks',
    'book_flight\tplease  book a flight to Rome, thanks',
    'play_music\tPlease play some jazz, thanks',
    'weather_today\tplease will it rain today, THANKS',
    'order_pizza\tcan I get a pepperoni pizza delivered',
    'book_flight\treserve me a seat on a flight to Paris',
    'play_music\tput on my jazz playlist',
    'weather_today\twill it be sunny this afternoon',
  ];
  const oosEval = [
    // Two variants of oos.tsv rows and three new questions.
    'out_of_scope\tTell me a JOKE',
    'out_of_scope\twho painted the  Mona Lisa',
    'out_of_scope\twhat is the speed of light',
    'out_of_scope\thow do volcanoes form',
    'out_of_scope\twho wrote Hamlet',
  ];
  const text = (line: string): string => line.split('\t')[1];
  const files: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'intent-train-reject-'));
    const data = join(dir, 'data');
    mkdirSync(data);
    // Not in code-unit order: the reject label is appended after these, as given.
    writeFileSync(
      join(data, 'labels.txt'),
      'weather_today\nplay_music\norder_pizza\nbook_flight\n',
    );
    files['made-up.csv'] = tinyCsv();
    files['oos.tsv'] = OUT_OF_SCOPE.map((t) => `out_of_scope\t${t}\n`).join('');
    files['in-scope.tsv'] = `${inScopeEval.join('\n')}\n`;
    files['oos-eval.tsv'] = `${oosEval.join('\n')}\n`;
    for (const [name, content] of Object.entries(files))
      writeFileSync(join(dir, name), content);
    const result = await trainer([
      '--data',
      data,
      '--source',
      `${join(dir, 'made-up.csv')},name=made-up`,
      '--source',
      join(dir, 'oos.tsv'),
      '--reject-label',
      'out_of_scope',
      '--holdout',
      '0.2',
      '--seed',
      '11',
      '--holdout-from',
      'made-up',
      '--evaluate',
      `${join(dir, 'in-scope.tsv')},name=in-scope`,
      '--evaluate',
      join(dir, 'oos-eval.tsv'),
      '--typo-copies',
      '1',
      '--out',
      join(dir, 'out'),
      '--version',
      '0.2.0',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    stdout = result.stdout;
    const modelDir = join(dir, 'out', '0.2.0');
    manifest = JSON.parse(
      readFileSync(join(modelDir, 'manifest.json'), 'utf8'),
    ) as Manifest;
    model = readFileSync(join(modelDir, 'model.onnx'));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the written model over some texts: [texts x labels] probabilities and the dims. */
  async function run(
    texts: string[],
  ): Promise<{ p: Float32Array; dims: readonly number[] }> {
    const session = await InferenceSession.create(model);
    try {
      const out = await session.run({
        text: new Tensor('string', texts, [texts.length]),
      });
      return {
        p: out['probabilities'].data as Float32Array,
        dims: out['probabilities'].dims,
      };
    } finally {
      await session.release();
    }
  }

  it('appends the reject label to labels.txt and lists it in reject_labels', () => {
    expect(manifest.labels).toEqual([
      'weather_today',
      'play_music',
      'order_pizza',
      'book_flight',
      'out_of_scope',
    ]);
    expect(manifest.reject_labels).toEqual(['out_of_scope']);
    expect(manifest.unknown_label).toBe('unknown');
    expect(manifest.training.labels_from).toBe('labels.txt');
    expect(manifest.outputs[0].shape).toEqual([-1, manifest.labels.length]);
    expect(manifest.sha256).toBe(
      createHash('sha256').update(model).digest('hex'),
    );
  });

  it('outputs one probability per label', async () => {
    const { p, dims } = await run(['please book a flight', 'tell me a joke']);
    expect(dims).toEqual([2, manifest.labels.length]);
    expect(p).toHaveLength(2 * manifest.labels.length);
  });

  it('never trains on the evaluation texts: they count as validation duplicates', () => {
    expect(manifest.sources).toEqual([
      expect.objectContaining({
        name: 'made-up',
        file: 'made-up.csv',
        rows: 60,
        kept: 56,
        duplicates_dropped: {
          within_source: 0,
          across_sources: 0,
          validation: 4,
        },
      }),
      expect.objectContaining({
        name: 'oos',
        file: 'oos.tsv',
        rows: OUT_OF_SCOPE.length,
        kept: OUT_OF_SCOPE.length - 2,
        duplicates_dropped: {
          within_source: 0,
          across_sources: 0,
          validation: 2,
        },
      }),
    ]);
  });

  it("holds out only made-up.csv's examples; the out-of-scope ones all train", () => {
    expect(manifest.training.validation).toEqual({
      from: 'holdout',
      fraction: 0.2,
      seed: 11,
      stratified_by: 'label',
      sources: ['made-up'],
    });
    // 14 per intent after the exclusions: round(2.8) = 3 held out each.
    expect(manifest.evaluation.validation.examples).toBe(12);
    expect(manifest.training.per_label).toEqual({
      weather_today: 11,
      play_music: 11,
      order_pizza: 11,
      book_flight: 11,
      out_of_scope: OUT_OF_SCOPE.length - 2,
    });
    // The typo'd copies are not counted as examples.
    expect(manifest.training.examples).toBe(44 + OUT_OF_SCOPE.length - 2);
  });

  it("records the typo augmentation and scores a typo'd validation copy", () => {
    expect(manifest.training.augmentation).toEqual({
      typo_copies: 1,
      seeds: [13],
      edits_per_character: 0.0833,
    });
    const typos = manifest.evaluation.validation_with_typos;
    if (!typos) throw new Error('no validation_with_typos');
    expect(typos).toEqual({
      seed: 12,
      edits_per_character: 0.0833,
      accuracy: expect.any(Number),
      accuracy_with_threshold: expect.any(Number),
      unknown_rate: expect.any(Number),
    });
    for (const x of [
      typos.accuracy,
      typos.accuracy_with_threshold,
      typos.unknown_rate,
    ])
      expect(x).toBeGreaterThanOrEqual(0);
    expect(
      typos.accuracy_with_threshold + typos.unknown_rate,
    ).toBeLessThanOrEqual(1);
    expect(stdout).toContain("augmentation: 1 typo'd copies of the");
  });

  it('reports validation figures under the service rule, per label F1 for every in-scope label', () => {
    const v = manifest.evaluation.validation;
    // A reject class is never a validation label here: its F1 would only say "never true".
    expect(Object.keys(v.per_label_f1 ?? {})).toEqual(
      manifest.labels.filter((l) => !manifest.reject_labels?.includes(l)),
    );
    expect(manifest.reject_labels).toEqual(['out_of_scope']);
    // Every validation row is in scope here, so both rates are the same.
    expect(v.in_scope_unknown_rate).toBe(v.unknown_rate);
    expect(v.accuracy_with_threshold + v.unknown_rate).toBeLessThanOrEqual(1);
    expect(v.accuracy).toBeGreaterThanOrEqual(0.75);
    expect(manifest.threshold).toBeGreaterThan(0);
    expect(manifest.threshold).toBeLessThan(1);
  });

  it('scores each evaluation set apart, with figures that agree with the model', async () => {
    const sets = manifest.evaluation.other_sets ?? [];
    expect(
      sets.map((s) => [s.name, s.file, s.sha256, s.examples, s.out_of_scope]),
    ).toEqual([
      [
        'in-scope',
        'in-scope.tsv',
        createHash('sha256').update(files['in-scope.tsv']).digest('hex'),
        inScopeEval.length,
        false,
      ],
      [
        'oos-eval',
        'oos-eval.tsv',
        createHash('sha256').update(files['oos-eval.tsv']).digest('hex'),
        oosEval.length,
        true,
      ],
    ]);
    const [inScope, oos] = sets;
    // In scope: right with the threshold implies right at top-1, and never also unknown.
    expect(inScope.accuracy_with_threshold).toBeLessThanOrEqual(
      inScope.accuracy,
    );
    expect(
      inScope.accuracy_with_threshold + inScope.unknown_rate,
    ).toBeLessThanOrEqual(1);
    // All out of scope: right exactly when answered unknown; top-1 right implies unknown.
    expect(oos.accuracy_with_threshold).toBe(oos.unknown_rate);
    expect(oos.accuracy).toBeLessThanOrEqual(oos.unknown_rate);

    // The same figures from the written model, answered as the service does.
    const classes = manifest.labels.length;
    const reject = new Set(
      (manifest.reject_labels ?? []).map((l) => manifest.labels.indexOf(l)),
    );
    for (const [set, lines] of [
      [inScope, inScopeEval],
      [oos, oosEval],
    ] as const) {
      const { p } = await run(lines.map(text));
      let top1 = 0;
      let right = 0;
      let unknown = 0;
      lines.forEach((line, i) => {
        const truth = manifest.labels.indexOf(line.split('\t')[0]);
        const row = Array.from(p.subarray(i * classes, (i + 1) * classes));
        const argmax = row.indexOf(Math.max(...row));
        const open = row.map((x, k) => (reject.has(k) ? -1 : x));
        const best = open.indexOf(Math.max(...open));
        const isUnknown = reject.has(argmax) || row[best] < manifest.threshold;
        if (argmax === truth) top1++;
        if (isUnknown) unknown++;
        if (reject.has(truth) ? isUnknown : !isUnknown && best === truth)
          right++;
      });
      const n = lines.length;
      expect([
        set.accuracy,
        set.accuracy_with_threshold,
        set.unknown_rate,
      ]).toEqual(
        [top1 / n, right / n, unknown / n].map(
          (x) => Math.round(x * 1e4) / 1e4,
        ),
      );
    }
    expect(stdout).toMatch(/in-scope: 8 examples, answered right/);
    expect(stdout).toMatch(/^oos-eval answered unknown\s+\d/m);
  });

  it('stops on a --holdout-from name no source has, and on an evaluation label the model lacks', async () => {
    const common = [
      '--data',
      join(dir, 'data'),
      '--source',
      `${join(dir, 'made-up.csv')},name=made-up`,
      '--source',
      join(dir, 'oos.tsv'),
      '--reject-label',
      'out_of_scope',
      '--holdout',
      '0.2',
      '--out',
      join(dir, 'never'),
    ];
    const unknownSource = await trainer([
      ...common,
      '--holdout-from',
      'made_up',
    ]);
    expect(unknownSource.code).toBe(1);
    expect(unknownSource.stderr).toContain(
      '--holdout-from made_up: no source has that name (sources: made-up, oos)',
    );
    writeFileSync(join(dir, 'bad-eval.tsv'), 'cancel_order\tcancel my pizza\n');
    const badLabel = await trainer([
      ...common,
      '--evaluate',
      `${join(dir, 'bad-eval.tsv')},name=bad`,
    ]);
    expect(badLabel.code).toBe(1);
    expect(badLabel.stderr).toContain(
      `${join(dir, 'bad-eval.tsv')}:1: label "cancel_order" of evaluation set "bad" is not a class of the model`,
    );
  }, 60_000);
});
