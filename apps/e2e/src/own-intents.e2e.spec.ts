import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { http } from './support/http';
import { ROOT, startApp, type RunningApp } from './support/processes';

/**
 * "Your own intents": a team writes its labelled queries to a CSV, trains the classifier with the
 * repo's trainer (the documented command, as a real child process) and serves the result with the
 * unchanged intent-classifier app pointed at it by MODEL_DIR. Nothing here knows Banking77.
 */

/** Made-up questions a shop's customers ask, six intents that are not Banking77 classes. */
const EXAMPLES: Record<string, string[]> = {
  opening_hours: [
    'what time do you open in the morning',
    'when do you close tonight',
    'are you open on sundays',
    'Are you open on Saturday, and until when?',
    'what are your opening hours',
    'what time does the shop shut',
    'is the store open on bank holidays',
    'how late are you open on fridays',
    'do you open early on weekdays',
    'until what time can I come in today',
    'are you closed over christmas',
    'when does the shop open tomorrow',
    'business hours please',
    'is the branch open at 8am',
    'what hours are you open during the holidays',
    'can I visit after 6 pm or are you shut',
    'do you have late night opening on thursdays',
    'what are the weekend hours',
  ],
  parking: [
    'is there a car park near the store',
    'where can I park my car',
    'do you have free parking for customers',
    'how much does parking cost',
    'Is parking free, or do I need a ticket?',
    'are there disabled parking spaces',
    'can I leave my car in your lot overnight',
    'is there somewhere to park a bike',
    'how long can I stay in the customer car park',
    'do I need to pay for the parking garage',
    'are there electric vehicle charging spots in the lot',
    'is the parking lot height restricted for vans',
    'where do I get a parking validation stamp',
    'is there street parking nearby',
    "the car park barrier won't let me out",
    'do you have motorbike parking',
    'how many parking spaces do you have',
    'can I park in the loading bay for a minute',
  ],
  refund_policy: [
    'can I get my money back for a return',
    'what is your refund policy',
    'how many days do I have to return something',
    'I bought the wrong size, can I get a refund?',
    'do you refund sale items',
    'do I need the receipt to get a refund',
    'will you refund to my original payment method',
    'how long does a refund take to come through',
    'can I return an opened item for a full refund',
    'is there a restocking fee on returns',
    'can I exchange instead of getting a refund',
    'the item arrived broken and I want my money back',
    'do you give refunds on gift purchases',
    'are refunds possible without the original packaging',
    'can I send back an online order for a refund',
    'what is the return window for electronics',
    'I changed my mind, can I return it',
    'do you offer cash refunds',
  ],
  store_location: [
    'where is your nearest shop',
    'what is the address of the store',
    'how do I get to your branch from the station',
    'Do you have a store in Leeds, or only in York?',
    'is there a shop near me',
    'which street are you on',
    'can you send me directions to the store',
    'where exactly is the shop in the shopping centre',
    'what floor of the mall are you on',
    'do you have any locations downtown',
    'how far is your store from the airport',
    'which bus goes to your shop',
    "I can't find your store, where are you",
    'list the towns where you have branches',
    "what's the postcode of the shop",
    'is there a branch close to the university',
    'are you next to the supermarket',
    'where are your outlets in the city',
  ],
  gift_cards: [
    'do you sell gift cards',
    'how do I check my gift card balance',
    'can I buy a gift voucher online',
    'My gift card says "expired", can I still use it?',
    'does the gift card expire',
    'can I use two gift vouchers on one order',
    'how much can I load onto a gift card',
    'I lost my gift card, can it be replaced',
    'can I send an e-gift card by email',
    'do gift cards work in every shop',
    'can I top up an existing gift card',
    'can I pay for a gift card with a credit card',
    'where do I enter my gift voucher code',
    'is there a minimum value for gift cards',
    'can a gift card be exchanged for cash',
    'buy a present voucher for my sister',
    "the gift card code isn't being accepted",
    'what designs do your gift cards come in',
  ],
  loyalty_points: [
    'how many loyalty points do I have',
    'how do I join the rewards scheme',
    'when do my reward points expire',
    'I forgot to scan my membership card, can I add the points later?',
    'how do I redeem my points',
    'how many points do I earn per pound spent',
    'my points were not added after shopping',
    'is the members club free to join',
    'can I transfer points to a family member',
    'what rewards can I get with 500 points',
    'do I earn points on sale items',
    'I lost my loyalty card',
    'how do I check my rewards balance in the app',
    'do points get taken off if I return something',
    'are there double points days',
    'what tier am I in the membership program',
    'sign me up for the loyalty programme',
    'can I use points and cash together',
  ],
};

/** Clearly phrased queries that are not in the CSV, with the label they must get. */
const UNSEEN: [string, string][] = [
  ['what time do you close on saturday?', 'opening_hours'],
  ['where do customers park their cars?', 'parking'],
  ['how do I get a refund for something I returned?', 'refund_policy'],
  ['where is your shop located?', 'store_location'],
  ['what is the balance on my gift card?', 'gift_cards'],
  ['how do I spend my reward points?', 'loyalty_points'],
];

/** The older model (3.0.0) knows only these. */
const OLD_LABELS = ['opening_hours', 'parking', 'refund_policy'];

/** RFC 4180: quote a field holding a comma, quote or line break, doubling its quotes. */
const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

function csv(labels: string[]): string {
  const rows = labels.flatMap((label) => EXAMPLES[label].map((text) => `${csvField(text)},${label}`));
  return ['text,category', ...rows].join('\r\n') + '\r\n';
}

interface Manifest {
  name: string;
  version: string;
  labels: string[];
  threshold: number;
  outputs: { name: string; shape: number[] }[];
  sources: { name: string; license: string | null; format: string; rows: number; kept: number }[];
  training: { labels_from: string };
}

/** The documented command, in a child process (as tools/intent-trainer's own specs run it). */
async function train(csvPath: string, outDir: string, version: string): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TS_NODE_')));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '-r',
      require.resolve('ts-node/register/transpile-only'),
      'tools/intent-trainer/src/main.ts',
      '--source',
      `${csvPath},name=shop-questions,license=internal`,
      '--labels-from-data',
      '--holdout',
      '0.2',
      '--seed',
      '1',
      '--out',
      outDir,
      '--version',
      version,
    ],
    { cwd: ROOT, env: { ...env, TS_NODE_PROJECT: join(ROOT, 'tools', 'intent-trainer', 'tsconfig.json') } },
  );
  return stdout;
}

async function untilReady(app: RunningApp) {
  for (let i = 0; i < 300; i++) {
    if ((await http(`${app.url}/health/ready`)).status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${app.name} never became ready:\n${app.lines.join('\n')}`);
}

const predict = (app: RunningApp, query: string) => http(`${app.url}/predict/intent`, { body: { query } });

describe('own intents: train the classifier on a CSV and serve it', () => {
  let work: string;
  let modelDir: string;
  let latest: Manifest;
  let old: Manifest;
  let app: RunningApp;
  let pinned: RunningApp;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'own-intents-'));
    modelDir = join(work, 'models');
    const out = join(modelDir, 'intent-classifier');
    writeFileSync(join(work, 'shop.csv'), csv(Object.keys(EXAMPLES)));
    writeFileSync(join(work, 'shop-v3.0.csv'), csv(OLD_LABELS));
    const logs = await Promise.all([train(join(work, 'shop.csv'), out, '3.1.0'), train(join(work, 'shop-v3.0.csv'), out, '3.0.0')]);
    expect(logs[0]).toContain(`wrote ${join(out, '3.1.0')}`);
    expect(logs[1]).toContain(`wrote ${join(out, '3.0.0')}`);
    latest = JSON.parse(readFileSync(join(out, '3.1.0', 'manifest.json'), 'utf8')) as Manifest;
    old = JSON.parse(readFileSync(join(out, '3.0.0', 'manifest.json'), 'utf8')) as Manifest;
    // No pin: the highest version present (3.1.0). Pinned: the older one, as for a rollback.
    const started = await Promise.allSettled([
      startApp('intent-classifier', { MODEL_DIR: modelDir }),
      startApp('intent-classifier', { MODEL_DIR: modelDir, MODEL_VERSION_INTENT_CLASSIFIER: '3.0.0' }),
    ]);
    // Keep whichever started, so afterAll stops it even when the other did not.
    [app, pinned] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as RunningApp[];
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    await Promise.all([untilReady(app), untilReady(pinned)]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([app?.stop(), pinned?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('trains on exactly the labels of the data, with the source recorded', () => {
    expect(latest).toMatchObject({ name: 'intent-classifier', version: '3.1.0' });
    expect(latest.labels).toEqual(Object.keys(EXAMPLES).sort());
    expect(latest.outputs[0].shape).toEqual([-1, latest.labels.length]);
    expect(latest.training.labels_from).toBe('data');
    const rows = Object.values(EXAMPLES).flat().length;
    // Every record read whole: the quoted fields' commas and doubled quotes did not split them.
    expect(latest.sources).toEqual([expect.objectContaining({ name: 'shop-questions', license: 'internal', format: 'csv', rows, kept: rows })]);
    expect(old.labels).toEqual(OLD_LABELS);
    expect(latest.threshold).toBeGreaterThan(0);
    expect(latest.threshold).toBeLessThan(1);
  });

  it.each(UNSEEN)('serves 3.1.0 and answers %p with %s', async (query, label) => {
    const res = await predict(app, query);
    expect(res.status).toBe(200);
    expect(res.json.model).toEqual({ name: 'intent-classifier', version: '3.1.0' });
    expect(res.json.intent).toBe(label);
    expect(res.json.confidence).toBeGreaterThanOrEqual(latest.threshold);
    expect(res.json.top[0]).toEqual({ intent: label, confidence: res.json.confidence });
  });

  it('answers only the manifest labels, with min(5, labels) distinct candidates best first', async () => {
    const queries = [...UNSEEN.map(([q]) => q), 'hello', 'do you sell bicycles', 'zzqx vvkw'];
    const res = await http(`${app.url}/predict/intent/batch`, { body: { queries } });
    expect(res.status).toBe(200);
    expect(res.json.predictions).toHaveLength(queries.length);
    for (const p of res.json.predictions as { intent: string; confidence: number; top: { intent: string; confidence: number }[] }[]) {
      expect(p.top).toHaveLength(Math.min(5, latest.labels.length));
      expect(new Set(p.top.map((c) => c.intent)).size).toBe(p.top.length);
      for (const c of p.top) expect(latest.labels).toContain(c.intent);
      const confidences = p.top.map((c) => c.confidence);
      expect(confidences).toEqual([...confidences].sort((a, b) => b - a));
      expect(p.intent).toBe(p.confidence >= latest.threshold ? p.top[0].intent : 'unknown');
    }
  });

  it('answers "unknown" below the manifest threshold', async () => {
    const res = await predict(app, 'zzqx vvkw');
    expect(res.status).toBe(200);
    expect(res.json.confidence).toBeLessThan(latest.threshold);
    expect(res.json.intent).toBe('unknown');
    expect(latest.labels).toContain(res.json.top[0].intent);
  });

  it('describes the served model over the Open Inference Protocol with its label count', async () => {
    const meta = await http(`${app.url}/v2/models/intent-classifier`);
    expect(meta.json).toMatchObject({ name: 'intent-classifier', versions: ['3.1.0'], outputs: [{ name: 'probabilities', shape: [-1, latest.labels.length] }] });
    expect((await http(`${app.url}/v2/models/intent-classifier/versions/3.1.0/ready`)).status).toBe(200);
    const text = { name: 'text', shape: [1], datatype: 'BYTES', data: [UNSEEN[1][0]] };
    const probs = await http(`${app.url}/v2/models/intent-classifier/infer`, { body: { inputs: [text] } });
    expect(probs.json).toMatchObject({ model_version: '3.1.0', outputs: [{ shape: [1, latest.labels.length], datatype: 'FP32' }] });
    expect((probs.json.outputs[0].data as number[]).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    // The classification extension names every class: exactly the manifest's labels, by index.
    const all = await http(`${app.url}/v2/models/intent-classifier/infer`, {
      body: { inputs: [text], outputs: [{ name: 'probabilities', parameters: { classification: latest.labels.length } }] },
    });
    const named = (all.json.outputs[0].data as string[]).map((s) => s.split(':'));
    expect(named.map(([, index, label]) => [Number(index), label]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(
      latest.labels.map((label, i) => [i, label]),
    );
    expect(named[0][2]).toBe('parking');
  });

  it('serves the pinned older version with its own, smaller label set', async () => {
    expect((await http(`${pinned.url}/v2/models/intent-classifier`)).json.versions).toEqual(['3.0.0']);
    expect((await http(`${pinned.url}/v2/models/intent-classifier/versions/3.1.0`)).status).toBe(404);
    for (const [query, label] of UNSEEN.filter(([, l]) => OLD_LABELS.includes(l))) {
      const res = await predict(pinned, query);
      expect(res.status).toBe(200);
      expect(res.json.model).toEqual({ name: 'intent-classifier', version: '3.0.0' });
      expect(res.json.intent).toBe(label);
      expect(res.json.top).toHaveLength(Math.min(5, old.labels.length));
      expect(res.json.top.map((c: { intent: string }) => c.intent).sort()).toEqual([...old.labels].sort());
    }
  });
});
