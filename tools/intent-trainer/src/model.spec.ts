import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Manifest } from './manifest';

// Checks the model as shipped, the way a service loads it: only the .onnx file and the manifest.
const MODEL_DIR = join(
  __dirname,
  '..',
  '..',
  '..',
  'models',
  'intent-classifier',
  '1.0.0',
);
const modelBytes = readFileSync(join(MODEL_DIR, 'model.onnx'));
const manifest = JSON.parse(
  readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8'),
) as Manifest;

describe('shipped intent-classifier 1.0.0', () => {
  let session: InferenceSession;

  beforeAll(async () => {
    session = await InferenceSession.create(modelBytes, {
      intraOpNumThreads: 1,
    });
  });
  afterAll(() => session.release());

  async function classify(texts: string[]): Promise<Float32Array> {
    const out = await session.run({
      text: new Tensor('string', texts, [texts.length]),
    });
    expect(out['probabilities'].dims).toEqual([
      texts.length,
      manifest.labels.length,
    ]);
    return out['probabilities'].data as Float32Array;
  }

  const top = (p: Float32Array, row: number): { label: string; p: number } => {
    const k = manifest.labels.length;
    const rowP = Array.from(p.subarray(row * k, (row + 1) * k));
    const best = rowP.indexOf(Math.max(...rowP));
    return { label: manifest.labels[best], p: rowP[best] };
  };

  it('matches the sha256 in its manifest', () => {
    expect(createHash('sha256').update(modelBytes).digest('hex')).toBe(
      manifest.sha256,
    );
  });

  it('declares the contract the service relies on', () => {
    expect(session.inputNames).toEqual(['text']);
    expect(session.outputNames).toEqual(['probabilities']);
    expect(manifest).toMatchObject({
      name: 'intent-classifier',
      version: '1.0.0',
      task: 'text-classification',
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 77] }],
      unknown_label: 'unknown',
      created_by: 'tools/intent-trainer',
    });
    expect(manifest.labels).toEqual(
      readFileSync(join(__dirname, '..', 'data', 'labels.txt'), 'utf8')
        .split('\n')
        .filter(Boolean),
    );
    expect(manifest.threshold).toBeGreaterThan(0);
    expect(manifest.threshold).toBeLessThan(1);
  });

  it.each([
    ["my new card still hasn't arrived", 'card_arrival'],
    ['I forgot my passcode', 'passcode_forgotten'],
    ['How do I activate my card?', 'activate_my_card'],
    ['Is there an age requirement to open an account?', 'age_limit'],
    ['Can I add my card to Apple Pay?', 'apple_pay_or_google_pay'],
    ['I want to close my account', 'terminate_account'],
    ['My card got stolen', 'lost_or_stolen_card'],
    ['WHAT IS THE EXCHANGE RATE FOR DOLLARS', 'exchange_rate'],
  ])('classifies "%s" as %s', async (text, label) => {
    expect(top(await classify([text]), 0).label).toBe(label);
  });

  it.each([
    ['my new card hasnt arived yet', 'card_arrival'],
    ['how do i activte my card', 'activate_my_card'],
    ['my card was stollen', 'lost_or_stolen_card'],
    ['wat is the exchnage rate', 'exchange_rate'],
  ])(
    'copes with the typos in "%s" (character n-grams)',
    async (text, label) => {
      expect(top(await classify([text]), 0).label).toBe(label);
    },
  );

  it('answers below the threshold (unknown) for small talk outside banking', async () => {
    const p = await classify([
      'hello',
      'what is the weather today',
      'I want to buy a pizza',
    ]);
    for (let row = 0; row < 3; row++)
      expect(top(p, row).p).toBeLessThan(manifest.threshold);
  });

  it('returns a probability distribution per row for a batch, including degenerate input', async () => {
    const texts = [
      'where is my card',
      '',
      '???',
      'ÄÖÜ ß 漢字 🙂',
      'refund',
      'x'.repeat(2000),
      ...Array.from({ length: 26 }, (_, i) => `transfer number ${i} failed`),
    ];
    const p = await classify(texts);
    const k = manifest.labels.length;
    for (let row = 0; row < texts.length; row++) {
      const rowP = p.subarray(row * k, (row + 1) * k);
      expect(rowP.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(
        true,
      );
      expect(rowP.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    // Text the model knows nothing about should fall below the threshold and be answered `unknown`.
    expect(top(p, 1).p).toBeLessThan(manifest.threshold);
  });

  it('gives the same answer for a text alone and inside a batch', async () => {
    const texts = [
      'I was charged twice for one purchase',
      'how long does a transfer take?',
      'top up failed',
    ];
    const batch = await classify(texts);
    for (let i = 0; i < texts.length; i++) {
      const single = await classify([texts[i]]);
      const k = manifest.labels.length;
      Array.from(single).forEach((v, j) =>
        expect(v).toBeCloseTo(batch[i * k + j], 6),
      );
    }
  });
});
