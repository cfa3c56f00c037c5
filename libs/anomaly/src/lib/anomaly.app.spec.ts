import { FEATURES_V2 } from '@ml/anomaly-features';

// The highest version present is served: 2.0.0, with feature version 2.
const FEATURE_COUNT = FEATURES_V2.count;
const computeFeatures = FEATURES_V2.compute;
import { loadRunner } from '@ml/inference';
import { NEW_YORK, LONDON, daysAgo, groceryHistory, http, iso, startAnomalyApp, tx, waitReady, type TestApp } from '../testing/anomaly.testing';
import { PROFILE_STORE } from './anomaly.constants';
import { POPULATION_ONLY } from './anomaly.detector';
import type { ProfileStore } from './profile.store';

const HOUR = 3_600_000;
const yesterday = daysAgo(1);

describe('anomaly-detector app (in-memory history) on a real port', () => {
  let app: TestApp;
  let store: ProfileStore;
  let openGate!: () => void;

  beforeAll(async () => {
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    app = await startAnomalyApp({ ANOMALY_PROFILE_MAX: '1000' }, { loadRunner: (path, workers) => gate.then(() => loadRunner(path, workers)) });
    store = app.app.get(PROFILE_STORE);
  });
  afterAll(() => app?.stop());

  const predict = (body: unknown, headers?: Record<string, string>) => http(`${app.url}/predict/anomaly`, { body, headers });
  const batch = (transactions: unknown[]) => http(`${app.url}/predict/anomaly/batch`, { body: { transactions } });
  const profile = async (user: string) => (await store.load([user])).get(user);
  const fields = (res: { json: { errors?: { field: string }[] } }) => (res.json.errors ?? []).map((e) => e.field);
  const seed = async (user: string, count = 40) => {
    const res = await batch(groceryHistory(user, count));
    expect(res.status).toBe(200);
  };

  it('is not ready (503) and answers predictions with 503 until the model is loaded and warmed', async () => {
    const ready = await http(`${app.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json.error.model).toEqual({ status: 'down' });
    const early = await predict(tx({ transaction_id: 't', user_id: 'early' }));
    expect(early.status).toBe(503);
    expect(early.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(early.headers['retry-after']).toBe('1');
    expect((await http(`${app.url}/v2/health/ready`)).status).toBe(400);
    expect((await profile('early'))?.rev).toBe(0);
    openGate();
    await waitReady(app.url);
    const open = await http(`${app.url}/health/ready`);
    expect(open.json.details.model).toEqual({ status: 'up' });
    expect(open.json.details.profiles).toMatchObject({ status: 'up', mode: 'memory', degraded: false, max: 1000 });
  });

  describe('scoring', () => {
    it('scores an everyday purchase after a history of similar ones low', async () => {
      await seed('alice');
      const res = await predict(
        tx({ transaction_id: 'alice-normal', user_id: 'alice', amount: 34.2, timestamp: iso(yesterday + 11 * HOUR), merchant_location: { lat: 51.51, lon: -0.13 } }),
      );
      expect(res.status).toBe(200);
      expect(Object.keys(res.json).sort()).toEqual(['degraded', 'is_anomaly', 'model', 'reasons', 'score', 'threshold', 'transaction_id']);
      expect(res.json).toMatchObject({ transaction_id: 'alice-normal', is_anomaly: false, degraded: false, model: { name: 'anomaly-detector', version: '2.0.0' } });
      expect(res.json.score).toBeLessThan(0.05);
      expect(res.json.threshold).toBeGreaterThan(res.json.score);
      expect(res.json.reasons.every((r: unknown) => typeof r === 'string')).toBe(true);
      expect((await profile('alice'))?.profile?.n).toBe(41);
    });

    it('flags a 2,000 GBP online purchase at 3am after that history, saying why (amount, time)', async () => {
      await seed('bob');
      const res = await predict(
        tx({ transaction_id: 'bob-odd', user_id: 'bob', amount: 2000, channel: 'online', merchant_category: 'shopping', timestamp: iso(yesterday + 3 * HOUR + 5 * 60_000), merchant_location: NEW_YORK }),
      );
      expect(res.status).toBe(200);
      expect(res.json.is_anomaly).toBe(true);
      // 2.0.0's threshold flags 0.5 % of transactions: this one is several times above it.
      expect(res.json.score).toBeGreaterThan(2 * res.json.threshold);
      const text = res.json.reasons.join(' | ');
      expect(text).toMatch(/amount 2,000 GBP is \d+x this customer's/);
      expect(text).toMatch(/made at 03:\d\d local time \(night\)/);
      expect(res.json.reasons.length).toBeGreaterThanOrEqual(3);
    });

    it('flags a card-present 2,000 GBP purchase at 3am local far from home, naming the distance', async () => {
      await seed('carol');
      // 08:05 UTC is about 03:09 solar time in New York.
      const res = await predict(
        tx({ transaction_id: 'carol-odd', user_id: 'carol', amount: 2000, merchant_category: 'shopping', timestamp: iso(yesterday + 8 * HOUR + 5 * 60_000), merchant_location: NEW_YORK }),
      );
      expect(res.status).toBe(200);
      expect(res.json.is_anomaly).toBe(true);
      const text = res.json.reasons.join(' | ');
      expect(text).toMatch(/[\d,]+ km from (home|any place this customer has used the card in person)/);
      expect(text).toMatch(/amount 2,000 GBP/);
      expect(text).toMatch(/local time \(night\)/);
    });

    it('says a new customer was scored on population features only', async () => {
      const res = await predict(tx({ transaction_id: 'new-1', user_id: 'newbie' }));
      expect(res.status).toBe(200);
      expect(res.json.degraded).toBe(false);
      expect(res.json.reasons).toContain(POPULATION_ONLY.newCustomer);
      const risky = await predict(tx({ transaction_id: 'new-2', user_id: 'newbie-2', amount: 2000, channel: 'online', merchant_category: 'shopping', timestamp: iso(yesterday + 3 * HOUR + 5 * 60_000) }));
      expect(risky.json.reasons).toContain(POPULATION_ONLY.newCustomer);
      expect(risky.json.score).toBeGreaterThan(res.json.score);
    });

    it('scores a repeated transaction_id each time but folds it once', async () => {
      await seed('dave', 10);
      const body = tx({ transaction_id: 'dave-dup', user_id: 'dave', amount: 55 });
      const first = await predict(body);
      const after = await profile('dave');
      const second = await predict(body);
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(second.json.transaction_id).toBe('dave-dup');
      expect(await profile('dave')).toEqual(after);
      expect(after?.profile?.n).toBe(11);
    });

    it('lets each item of a batch see the earlier ones, and answers in order', async () => {
      const items = [0, 1, 2].map((i) => tx({ transaction_id: `eve-${i}`, user_id: 'eve', timestamp: iso(yesterday + (9 + i) * HOUR) }));
      const res = await batch(items);
      expect(res.status).toBe(200);
      expect(res.json.predictions.map((p: { transaction_id: string }) => p.transaction_id)).toEqual(['eve-0', 'eve-1', 'eve-2']);
      expect(res.json.predictions[0].reasons).toContain(POPULATION_ONLY.newCustomer);
      expect(res.json.predictions[1].reasons).not.toContain(POPULATION_ONLY.newCustomer);
      expect(res.json.predictions[2].reasons).not.toContain(POPULATION_ONLY.newCustomer);
      expect((await profile('eve'))?.profile?.n).toBe(3);
    });
  });

  describe('validation', () => {
    const good = () => tx({ transaction_id: 'v-1', user_id: 'victor', amount: 30, timestamp: iso(yesterday + 10 * HOUR) });

    beforeAll(() => seed('victor', 5));

    it.each([
      ['amount', { amount: -5 }],
      ['amount', { amount: 0 }],
      ['amount', { amount: 'NaN' }],
      ['amount', { amount: 1_000_000.5 }],
      ['amount', { amount: null }],
      ['merchant_category', { merchant_category: 'casino' }],
      ['channel', { channel: 'phone' }],
      ['currency', { currency: 'gbp' }],
      ['currency', { currency: 'POUNDS' }],
      ['timestamp', { timestamp: 'yesterday' }],
      ['timestamp', { timestamp: '2026-11-27T09:30:00' }],
      ['timestamp', { timestamp: new Date(Date.now() + 3 * 86_400_000).toISOString() }],
      ['timestamp', { timestamp: '2026-01-01T10:00:00+23:00' }],
      ['transaction_id', { transaction_id: undefined }],
      ['transaction_id', { transaction_id: '' }],
      ['user_id', { user_id: undefined }],
      ['merchant_location.lat', { merchant_location: { lat: 91, lon: 0 } }],
      ['home_location.lon', { home_location: { lat: 0, lon: 200 } }],
      ['extra', { extra: true }],
    ])('rejects a bad %s (%j) with 422 naming it, folding nothing', async (field, patch) => {
      const before = await profile('victor');
      const res = await predict({ ...good(), ...patch });
      expect(res.status).toBe(422);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(res.json).toMatchObject({ status: 422, type: expect.stringContaining('validation-failed'), request_id: expect.any(String) });
      expect(fields(res)).toContain(field);
      expect(await profile('victor')).toEqual(before);
    });

    it('answers a literal NaN (not JSON) with 400', async () => {
      const res = await http(`${app.url}/predict/anomaly`, { raw: JSON.stringify(good()).replace('"amount":30', '"amount":NaN'), headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
    });

    it('rejects a batch with bad items whole, naming each index and field, and folds none of it', async () => {
      const before = await Promise.all(['victor', 'walter'].map(profile));
      const items = [
        tx({ transaction_id: 'b-0', user_id: 'walter' }),
        { ...tx({ transaction_id: 'b-1', user_id: 'victor' }), amount: -1 },
        tx({ transaction_id: 'b-2', user_id: 'victor' }),
        { ...tx({ transaction_id: 'b-3', user_id: 'walter' }), channel: 'fax', currency: 'x' },
        { ...tx({ transaction_id: 'b-4', user_id: 'walter' }), amount: 5_000_000 },
      ];
      const res = await batch(items);
      expect(res.status).toBe(422);
      expect(fields(res)).toEqual(['transactions[1].amount', 'transactions[3].channel', 'transactions[3].currency']);
      const rules = await batch([items[0], items[4]]);
      expect(fields(rules)).toEqual(['transactions[1].amount']);
      expect(await Promise.all(['victor', 'walter'].map(profile))).toEqual(before);
      expect(before[1]?.rev).toBe(0);
    });

    it('rejects an empty or oversized batch', async () => {
      expect(fields(await batch([]))).toEqual(['transactions']);
      const big = Array.from({ length: 257 }, (_, i) => tx({ transaction_id: `x-${i}`, user_id: 'xavier' }));
      expect(fields(await batch(big))).toEqual(['transactions']);
      expect((await profile('xavier'))?.rev).toBe(0);
    });

    it('takes 256 transactions in one batch', async () => {
      const items = Array.from({ length: 256 }, (_, i) => tx({ transaction_id: `y-${i}`, user_id: `yvonne-${i % 16}`, timestamp: iso(daysAgo(5) + i * 60_000) }));
      const res = await batch(items);
      expect(res.status).toBe(200);
      expect(res.json.predictions).toHaveLength(256);
      expect((await profile('yvonne-3'))?.profile?.n).toBe(16);
    });
  });

  describe('Open Inference Protocol', () => {
    it('describes the model: FP32 features [N, 25] in, score [N, 1] out', async () => {
      const meta = await http(`${app.url}/v2/models/anomaly-detector`);
      expect(meta.json).toEqual({
        name: 'anomaly-detector',
        versions: ['2.0.0'],
        platform: 'onnxruntime_onnx',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, FEATURE_COUNT] }],
        outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
      });
      expect((await http(`${app.url}/v2/models/anomaly-detector/ready`)).json).toEqual({ name: 'anomaly-detector', ready: true });
    });

    it('scores feature rows as the model does', async () => {
      const rows = [
        computeFeatures(undefined, tx({ transaction_id: 'o1', user_id: 'o' })).vector,
        computeFeatures(undefined, tx({ transaction_id: 'o2', user_id: 'o', amount: 2000, channel: 'online', merchant_category: 'shopping' })).vector,
      ];
      const res = await http(`${app.url}/v2/models/anomaly-detector/infer`, {
        body: { id: 'r1', inputs: [{ name: 'features', datatype: 'FP32', shape: [2, FEATURE_COUNT], data: rows.map((r) => Array.from(r)) }], outputs: [{ name: 'score' }] },
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ model_name: 'anomaly-detector', model_version: '2.0.0', id: 'r1' });
      expect(res.json.outputs[0]).toMatchObject({ name: 'score', datatype: 'FP32', shape: [2, 1] });
      const trees = app.service.files.trees;
      rows.forEach((r, i) => expect(res.json.outputs[0].data[i]).toBeCloseTo(trees.predict(r), 5));
      expect(res.json.outputs[0].data[1]).toBeGreaterThan(res.json.outputs[0].data[0]);
    });

    it.each([
      [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 25], data: Array(25).fill(0) }] }, 'must contain an input named "features"'],
      [{ inputs: [{ name: 'features', datatype: 'INT64', shape: [1, 25], data: Array(25).fill(0) }] }, 'must be FP32'],
      [{ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 24], data: Array(24).fill(0) }] }, 'must be [N, 25]'],
      [{ inputs: [{ name: 'features', datatype: 'FP32', shape: [0, 25], data: [] }] }, 'must hold 1 to 256 rows'],
      [{ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 25], data: [...Array(24).fill(0), 'a'] }] }, 'must be a finite number'],
      [{ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 25], data: Array(25).fill(0) }], outputs: [{ name: 'probabilities' }] }, 'unknown output'],
      [
        { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 25], data: Array(25).fill(0) }], outputs: [{ name: 'score', parameters: { classification: 1 } }] },
        'classification extension does not apply',
      ],
    ])('answers a bad request with 422 {"error"} (%#)', async (body, message) => {
      const res = await http(`${app.url}/v2/models/anomaly-detector/infer`, { body });
      expect(res.status).toBe(422);
      expect(res.json.error).toContain(message);
    });
  });

  it('exposes prediction, flag, batch and validation metrics', async () => {
    const m = (await http(`${app.url}/metrics`)).text;
    expect(m).toMatch(/ml_prediction_total\{[^}]*model="anomaly-detector"[^}]*status="success"[^}]*\} [1-9]/);
    expect(m).toMatch(/ml_prediction_latency_seconds_count\{[^}]*model="anomaly-detector"[^}]*\} [1-9]/);
    expect(m).toMatch(/ml_prediction_confidence_bucket\{[^}]*model="anomaly-detector"/);
    expect(m).toMatch(/ml_inference_batch_size_count\{[^}]*model="anomaly-detector"[^}]*\} [1-9]/);
    expect(m).toMatch(/ml_anomaly_flagged_total\{[^}]*model="anomaly-detector"[^}]*\} [1-9]/);
    expect(m).toMatch(/ml_invalid_input_total\{[^}]*error="validation"[^}]*\} [1-9]/);
    expect(m).toMatch(/ml_invalid_input_total\{[^}]*error="rule"[^}]*\} [1-9]/);
    expect(m).toMatch(/ml_profile_fold_skipped_total\{[^}]*reason="unavailable"[^}]*\} 0/);
    expect(m).toMatch(/# TYPE ml_anomaly_degraded_total counter/);
    expect(m).toMatch(/ml_profile_store_degraded\{[^}]*store="memory"[^}]*\} 0/);
  });

  it('honours a shorter client deadline header', async () => {
    const res = await predict(tx({ transaction_id: 'quick', user_id: 'quinn', merchant_location: LONDON }), { 'x-request-timeout-ms': '500' });
    expect(res.status).toBe(200);
  });
});

describe('anomaly-detector app whose model cannot be loaded', () => {
  it('reports the failure and never becomes ready', async () => {
    const failures: string[] = [];
    const app = await startAnomalyApp(
      {},
      {
        loadRunner: async () => {
          throw new Error('onnxruntime could not load the model');
        },
        onLoadFailure: (err) => failures.push(err.message),
      },
    );
    try {
      await app.service.whenLoaded();
      expect(failures).toEqual(['onnxruntime could not load the model']);
      const ready = await http(`${app.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(ready.json.error.model).toEqual({ status: 'down' });
      expect((await http(`${app.url}/predict/anomaly`, { body: tx({ transaction_id: 't', user_id: 'u' }) })).status).toBe(503);
    } finally {
      await app.stop();
    }
  });
});
