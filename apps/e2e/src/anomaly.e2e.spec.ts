import { http } from './support/http';
import { startApp, type RunningApp } from './support/processes';

const tx = (over: Record<string, unknown> = {}) => ({
  transaction_id: `tx-${Math.random().toString(36).slice(2)}`,
  user_id: 'e2e-user-1',
  amount: 42.3,
  currency: 'GBP',
  timestamp: '2026-11-20T12:30:00Z',
  merchant_category: 'grocery',
  channel: 'in_store',
  merchant_location: { lat: 51.51, lon: -0.13 },
  home_location: { lat: 51.5, lon: -0.12 },
  ...over,
});

describe('anomaly-detector: card transactions scored against history', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp('anomaly-detector');
    for (let i = 0; i < 200 && (await http(`${app.url}/health/ready`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('scores a new customer on population features and says so', async () => {
    const res = await http(`${app.url}/predict/anomaly`, { body: tx({ user_id: 'fresh-customer' }) });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ is_anomaly: expect.any(Boolean), threshold: expect.any(Number), degraded: false, model: { name: 'anomaly-detector' } });
    expect(res.json.score).toBeGreaterThanOrEqual(0);
    expect(res.json.score).toBeLessThanOrEqual(1);
    expect(res.json.reasons.join(' ')).toMatch(/new customer/i);
  });

  it('flags an unusual purchase after a normal history, with reasons, and lets a usual one pass', async () => {
    const user = `e2e-${Date.now()}`;
    const history = Array.from({ length: 30 }, (_, i) =>
      tx({ user_id: user, amount: 30 + (i % 7) * 3, timestamp: new Date(Date.parse('2026-10-01T12:00:00Z') + i * 86_400_000).toISOString() }),
    );
    const batch = await http(`${app.url}/predict/anomaly/batch`, { body: { transactions: history } });
    expect(batch.status).toBe(200);
    expect(batch.json.predictions).toHaveLength(30);
    const usual = await http(`${app.url}/predict/anomaly`, { body: tx({ user_id: user, amount: 35, timestamp: '2026-11-01T12:10:00Z' }) });
    expect(usual.json.is_anomaly).toBe(false);
    const odd = await http(`${app.url}/predict/anomaly`, {
      body: tx({ user_id: user, amount: 2400, channel: 'online', merchant_category: 'shopping', timestamp: '2026-11-01T03:05:00Z', merchant_location: undefined }),
    });
    expect(odd.json.is_anomaly).toBe(true);
    expect(odd.json.score).toBeGreaterThan(usual.json.score);
    expect(odd.json.reasons.length).toBeGreaterThan(0);
  });

  it.each([
    ['amount', { amount: -5 }],
    ['amount', { amount: 0 }],
    ['amount', { amount: 5_000_000 }],
    ['merchant_category', { merchant_category: 'casino' }],
    ['channel', { channel: 'fax' }],
    ['currency', { currency: 'pounds' }],
    ['timestamp', { timestamp: 'last tuesday' }],
    ['timestamp', { timestamp: '2099-01-01T00:00:00Z' }],
    ['merchant_location.lat', { merchant_location: { lat: 123, lon: 0 } }],
    ['transaction_id', { transaction_id: '' }],
  ])('answers 422 naming %s', async (field, patch) => {
    const res = await http(`${app.url}/predict/anomaly`, { body: tx(patch) });
    expect(res.status).toBe(422);
    expect(res.json.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('rejects a batch with a bad item whole, naming its index', async () => {
    const res = await http(`${app.url}/predict/anomaly/batch`, { body: { transactions: [tx(), tx({ amount: -1 }), tx()] } });
    expect(res.status).toBe(422);
    expect(res.json.errors).toEqual([expect.objectContaining({ field: 'transactions[1].amount' })]);
  });

  it('serves the Open Inference Protocol for the model', async () => {
    const meta = await http(`${app.url}/v2/models/anomaly-detector`);
    expect(meta.status).toBe(200);
    expect(meta.json.inputs[0]).toMatchObject({ name: 'features', datatype: 'FP32' });
  });
});
