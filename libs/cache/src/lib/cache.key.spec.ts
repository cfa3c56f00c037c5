import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson, predictionKey } from './cache.key';

/** The same object with its keys inserted in another order, at every depth. */
function reorder(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v) => reorder(v, seed + 1));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    const rotated = entries.map(
      (_, i) => entries[(i + seed) % entries.length] as [string, unknown],
    );
    if (seed % 2 === 1) rotated.reverse();
    return Object.fromEntries(
      rotated.map(([k, v]) => [k, reorder(v, seed + 1)]),
    );
  }
  return value;
}

describe('canonicalJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('gives the same text whatever the key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(10), (value, seed) => {
        expect(canonicalJson(reorder(value, seed))).toBe(canonicalJson(value));
      }),
      { numRuns: 500 },
    );
  });

  it('parses back to data equal to the input', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        // JSON itself turns -0 into 0; canonical text does the same.
        expect(JSON.parse(canonicalJson(value))).toEqual(
          JSON.parse(JSON.stringify(value)),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('follows JSON for undefined, functions, toJSON and typed arrays', () => {
    expect(
      canonicalJson({ u: undefined, f: () => 1, a: [undefined, 1], b: 2 }),
    ).toBe('{"a":[null,1],"b":2}');
    expect(canonicalJson({ at: new Date(0) })).toBe(
      '{"at":"1970-01-01T00:00:00.000Z"}',
    );
    expect(canonicalJson(new Float32Array([1, 0.5]))).toBe('[1,0.5]');
    expect(canonicalJson({ t: new Int8Array([-1, 2]) })).toBe('{"t":[-1,2]}');
  });

  it('refuses what would make distinct inputs share a text', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      { x: [1, Number.NEGATIVE_INFINITY] },
      10n,
      new BigInt64Array([1n]),
      new Map([['a', 1]]),
      new Set([1]),
      new ArrayBuffer(4),
      cyclic,
      undefined,
      () => 1,
    ]) {
      expect(() => canonicalJson(bad)).toThrow(
        expect.objectContaining({ code: 'CACHE_INVALID_ARGUMENT' }),
      );
    }
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { v: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe(
      '{"a":{"v":1},"b":{"v":1}}',
    );
  });
});

describe('predictionKey', () => {
  it('is the sha256 hex of the canonical [model, version, input]', () => {
    const key = predictionKey('intent', '3', { text: 'hi', lang: 'en' });
    expect(key).toBe(
      createHash('sha256')
        .update('["intent","3",{"lang":"en","text":"hi"}]')
        .digest('hex'),
    );
    expect(key).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is stable across key order and calls', () => {
    const a = predictionKey('m', '1', { x: [1, 2], y: { p: 1, q: 2 } });
    const b = predictionKey('m', '1', { y: { q: 2, p: 1 }, x: [1, 2] });
    expect(a).toBe(b);
    expect(predictionKey('m', '1', { x: [1, 2], y: { p: 1, q: 2 } })).toBe(a);
  });

  it('differs when model, version or input differ', () => {
    const base = predictionKey('m', '1', { x: 1 });
    const others = [
      predictionKey('m2', '1', { x: 1 }),
      predictionKey('m', '2', { x: 1 }),
      predictionKey('m', '1', { x: 2 }),
      predictionKey('m', '1', { x: '1' }),
      predictionKey('m', '1', { x: [1] }),
      predictionKey('m', '1', [1]),
      predictionKey('m', '1', { x: 1, y: null }),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
    // No ambiguity where one part ends and the next begins.
    expect(predictionKey('ab', 'c', 1)).not.toBe(predictionKey('a', 'bc', 1));
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (x, y) => {
        fc.pre(canonicalJson(x) !== canonicalJson(y));
        expect(predictionKey('m', '1', x)).not.toBe(predictionKey('m', '1', y));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an empty model or version', () => {
    expect(() => predictionKey('', '1', {})).toThrow(/model/);
    expect(() => predictionKey('m', '', {})).toThrow(/version/);
  });
});
