import { batchCost, normaliseCost } from './rate-limit.decorators';
import { policyHeader, rateLimitHeader } from './rate-limit.headers';
import { trackerOf } from './rate-limit.guard';

describe('RateLimit header fields', () => {
  it('formats the policy and the current state as structured-field items', () => {
    expect(policyHeader('default', 100, 60)).toBe('"default";q=100;w=60');
    expect(rateLimitHeader('default', 42, 17)).toBe('"default";r=42;t=17');
  });

  it('never shows negative or fractional numbers', () => {
    expect(rateLimitHeader('default', -3, -1)).toBe('"default";r=0;t=0');
    expect(rateLimitHeader('default', 2.7, 0.2)).toBe('"default";r=2;t=1');
  });

  it('escapes the name as an sf-string and refuses what it cannot carry', () => {
    expect(policyHeader('a"b\\c', 1, 1)).toBe('"a\\"b\\\\c";q=1;w=1');
    expect(() => policyHeader('naïve', 1, 1)).toThrow(RangeError);
  });
});

describe('request cost', () => {
  const cost = batchCost('queries', 'transactions');
  const req = (body: unknown) => ({ body: body as { [k: string]: unknown }, headers: {} });

  it('is the length of the first array field, else 1', () => {
    expect(cost(req({ queries: [1, 2, 3] }))).toBe(3);
    expect(cost(req({ transactions: new Array(7).fill({}) }))).toBe(7);
    expect(cost(req({ queries: 'nope', transactions: [1, 2] }))).toBe(2);
    expect(cost(req({ text: 'hello' }))).toBe(1);
    expect(cost(req(undefined))).toBe(1);
    expect(cost(req(null))).toBe(1);
    expect(cost(req('a string body'))).toBe(1);
  });

  it('is a whole number of at least one unit', () => {
    expect(normaliseCost(4)).toBe(4);
    expect(normaliseCost(2.1)).toBe(3);
    expect([0, -5, 0.5, NaN, Infinity, '9', undefined].map(normaliseCost)).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });
});

describe('trackerOf', () => {
  it('tracks an authenticated request by its key name', () => {
    expect(trackerOf({ ip: '10.0.0.1', apiKey: { name: 'acme' } })).toEqual({ kind: 'key', name: 'acme' });
  });

  it('falls back to the client address when no usable key was set', () => {
    expect(trackerOf({ ip: '10.0.0.1' })).toEqual({ kind: 'ip', name: '10.0.0.1' });
    expect(trackerOf({ ip: '10.0.0.1', apiKey: { name: '' } })).toEqual({ kind: 'ip', name: '10.0.0.1' });
    expect(trackerOf({ ip: '10.0.0.1', apiKey: { name: 42 } })).toEqual({ kind: 'ip', name: '10.0.0.1' });
    expect(trackerOf({})).toEqual({ kind: 'ip', name: 'unknown' });
  });

  it('groups IPv6 clients by /64 and unwraps IPv4-mapped addresses', () => {
    expect(trackerOf({ ip: '2001:db8:1:2:aaaa::1' }).name).toBe(trackerOf({ ip: '2001:db8:1:2:bbbb::9' }).name);
    expect(trackerOf({ ip: '2001:db8:1:2::1' }).name).not.toBe(trackerOf({ ip: '2001:db8:1:3::1' }).name);
    expect(trackerOf({ ip: '::ffff:192.0.2.7' }).name).toBe('192.0.2.7');
  });
});
