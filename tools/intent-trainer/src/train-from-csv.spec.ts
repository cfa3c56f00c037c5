import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onnx } from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Manifest } from './manifest';

const ROOT = join(__dirname, '..', '..', '..');

/** Runs src/main.ts under ts-node in a child process, as determinism.spec.ts does. */
async function trainer(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('TS_NODE_')),
  );
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [
        '-r',
        require.resolve('ts-node/register/transpile-only'),
        join(__dirname, 'main.ts'),
        ...args,
      ],
      {
        cwd: ROOT,
        env: {
          ...env,
          TS_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json'),
        },
      },
    );
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
      'fitting C=50',
      'threshold:',
      `writing ${modelDir}`,
    ])
      expect(first.stdout).toContain(phase);
    expect(first.stdout).toMatch(/C=50 iteration 10: loss \d/);
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
