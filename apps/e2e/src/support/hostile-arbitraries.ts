import fc from 'fast-check';

/**
 * Hostile request bodies for the end-to-end suites. Bodies are built as a small JSON syntax tree
 * and written out as BYTES, so that a test can say exactly what goes on the wire: duplicate keys,
 * number literals JSON.stringify would never write (`1e999`, `-0`, 20-digit integers), deep
 * nesting, lone surrogates, NUL escapes and raw invalid UTF-8 bytes.
 */

/** A JSON object written entry by entry: keys may repeat. */
export interface JObject {
  k: 'obj';
  entries: [string, JNode][];
}
/** Bytes written verbatim (number literals, nesting, invalid UTF-8 inside a string). */
export interface JRaw {
  k: 'raw';
  bytes: Buffer;
}
export type JNode = null | boolean | number | string | JNode[] | JObject | JRaw;

export const obj = (entries: [string, JNode][]): JObject => ({ k: 'obj', entries });
export const raw = (bytes: Buffer | string): JRaw => ({ k: 'raw', bytes: Buffer.from(bytes) });
const isObj = (n: JNode): n is JObject => typeof n === 'object' && n !== null && !Array.isArray(n) && n.k === 'obj';
const isRaw = (n: JNode): n is JRaw => typeof n === 'object' && n !== null && !Array.isArray(n) && n.k === 'raw';

/** A plain JSON value as a tree. */
export function fromJson(v: unknown): JNode {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map(fromJson);
  if (typeof v === 'object') return obj(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromJson(x)]));
  return null;
}

/** Writes a tree as bytes. JSON.stringify escapes NUL and lone surrogates as \u0000 / \ud800. */
export function serialize(n: JNode): Buffer {
  const out: Buffer[] = [];
  const walk = (x: JNode) => {
    if (isRaw(x)) out.push(x.bytes);
    else if (isObj(x)) {
      out.push(Buffer.from('{'));
      x.entries.forEach(([k, v], i) => {
        out.push(Buffer.from(`${i ? ',' : ''}${JSON.stringify(k)}:`));
        walk(v);
      });
      out.push(Buffer.from('}'));
    } else if (Array.isArray(x)) {
      out.push(Buffer.from('['));
      x.forEach((v, i) => {
        if (i) out.push(Buffer.from(','));
        walk(v);
      });
      out.push(Buffer.from(']'));
    } else if (typeof x === 'number') out.push(Buffer.from(Object.is(x, -0) ? '-0' : JSON.stringify(x)));
    else out.push(Buffer.from(JSON.stringify(x)));
  };
  walk(n);
  return Buffer.concat(out);
}

function clone(n: JNode): JNode {
  if (isRaw(n)) return n;
  if (isObj(n)) return obj(n.entries.map(([k, v]) => [k, clone(v)]));
  if (Array.isArray(n)) return n.map(clone);
  return n;
}

/** Does the tree hold a key the services must refuse with 400 (`__proto__`, `constructor.prototype`)? */
export function hasForbiddenKey(n: JNode): boolean {
  if (isObj(n)) {
    // A repeated key keeps its last value (JSON.parse): earlier values never exist after parsing.
    const last = new Map(n.entries);
    return [...last].some(
      ([k, v]) => k === '__proto__' || (k === 'constructor' && isObj(v) && v.entries.some(([kk]) => kk === 'prototype')) || hasForbiddenKey(v),
    );
  }
  if (Array.isArray(n)) return n.some(hasForbiddenKey);
  return false;
}

/** The key an attacker's prototype payloads try to plant; it must never show up anywhere. */
export const CANARY = 'hostilePolluted';

export const nest = (depth: number, inner = '') => '['.repeat(depth) + inner + ']'.repeat(depth);
export const nestObj = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

// ---- values -------------------------------------------------------------------------------

/** Number literals at the edges, written as text (1e999 parses to Infinity). */
export const EDGE_NUMBERS = [
  '-0',
  '0',
  '-0.0',
  '1e308',
  '-1e308',
  '1.7976931348623157e308',
  '9007199254740993', // MAX_SAFE_INTEGER + 2
  '-9007199254740993',
  '123456789012345678901234567890',
  '5e-324', // the smallest denormal
  '2.2250738585072014e-308',
  '1e-400', // underflows to 0
  '1e999', // Infinity after JSON.parse
  '-1e999',
  '1E+2',
  '0.1e1',
  '1e-7',
  '4294967296',
  '-1',
  '256',
  '257',
  '1000000.0000001',
];
export const edgeNumber: fc.Arbitrary<JNode> = fc.constantFrom(...EDGE_NUMBERS).map((t) => raw(t));

/** Invalid UTF-8 byte sequences: stray continuation, overlong NUL, CESU surrogate, 0xFF, truncated. */
export const BAD_UTF8 = [
  Buffer.from([0x80]),
  Buffer.from([0xc0, 0x80]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
];
export const badUtf8String = (prefix = 'I lost my card ') =>
  fc.constantFrom(...BAD_UTF8).map((b) => raw(Buffer.concat([Buffer.from(`"${prefix}`), b, Buffer.from('"')])));

/** Strings with NUL, lone surrogates, control and bidi characters, written as JSON escapes. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'I lost my card\u0000',
  '\ud800',
  'a\udfffb',
  '\udc00\ud800',
  '\u2028\u2029',
  '\u202e\u0007\u001b[31m',
  '\ufeff',
  '𝕴 𝖑𝖔𝖘𝖙 𝖒𝖞 𝖈𝖆𝖗𝖉',
  '%s%n%x{{7*7}}${7*7}',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'toString',
];
export const hostileString: fc.Arbitrary<JNode> = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom(999, 1000, 1001, 4096, 20_000).map((n) => 'x'.repeat(n)),
  fc.constantFrom(1000, 1001).map((n) => '\ud83d\ude00'.repeat(n)),
);

/** Keys an attacker would try, at any depth. */
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', '__defineGetter__', 'hasOwnProperty', 'toString', 'valueOf', 'then'];
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  { weight: 2, arbitrary: fc.constantFrom('query', 'queries', 'transactions', 'amount', 'inputs', 'data', 'shape', 'datatype', 'name', 'outputs', 'parameters', 'classification', 'id') },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '\u0000', '\ud800', 'a.b', '[0]', 'query ') },
);

/** Objects that try to plant CANARY on a prototype. */
export const protoPayload: fc.Arbitrary<JNode> = fc.constantFrom<JNode>(
  obj([['__proto__', obj([[CANARY, 'yes']])]]),
  obj([['constructor', obj([['prototype', obj([[CANARY, 'yes']])]])]]),
  obj([['prototype', obj([[CANARY, 'yes']])]]),
  obj([['constructor', 'x']]),
  obj([['constructor', obj([[CANARY, 'yes']])]]),
  obj([['a', obj([['b', obj([['__proto__', obj([[CANARY, 1]])]])]])]]),
  obj([['__proto__', null]]),
  obj([['__proto__', []]]),
  obj([['__proto__', obj([['toString', 'x'], ['valueOf', 1]])]]),
  obj([['constructor', obj([['prototype', null]])]]),
);

/** Deep nesting written as text (depths around and beyond common parser and validator limits). */
export const deepNest: fc.Arbitrary<JNode> = fc.oneof(
  fc.constantFrom(2, 10, 64, 100, 101, 256, 1000, 1500).map((d) => raw(nest(d))),
  fc.constantFrom(100, 1000, 5000).map((d) => raw(nestObj(d))),
  fc.constantFrom(3000, 8000, 20_000).map((d) => raw(nest(d))),
);

/** Any JSON value, with hostile keys at any depth. */
const { tree } = fc.letrec<{ tree: JNode; leaf: JNode; node: JNode }>((tie) => ({
  leaf: fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    hostileString,
    edgeNumber,
  ),
  node: fc.oneof(
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.array(fc.tuple(hostileKey, tie('tree')), { maxLength: 4 }).map((entries) => obj(entries)),
  ),
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('node')),
}));
export const hostileTree = tree;

/** One hostile value to plant somewhere in a valid body. */
export const hostileValue: fc.Arbitrary<JNode> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(fromJson) },
  { weight: 3, arbitrary: edgeNumber },
  { weight: 3, arbitrary: hostileString },
  { weight: 1, arbitrary: badUtf8String() },
  { weight: 2, arbitrary: deepNest },
  { weight: 2, arbitrary: protoPayload },
  { weight: 2, arbitrary: hostileTree },
);

// ---- mutations ----------------------------------------------------------------------------

export type Mutation =
  | { kind: 'replace'; at: number; value: JNode }
  | { kind: 'delete'; at: number }
  | { kind: 'add'; at: number; key: string; value: JNode }
  | { kind: 'duplicate'; at: number; value: JNode }
  | { kind: 'wrap'; at: number; how: 'array' | 'object' };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: hostileValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: hostileKey, value: hostileValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), value: hostileValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wrap' as const), at: fc.nat(), how: fc.constantFrom('array' as const, 'object' as const) }) },
);

interface Slot {
  get: () => JNode;
  set: (v: JNode) => void;
}

/** Every place in the tree a value sits (the root included), and every object. */
function slots(root: { v: JNode }) {
  const places: Slot[] = [{ get: () => root.v, set: (v) => (root.v = v) }];
  const objects: JObject[] = [];
  const walk = (n: JNode) => {
    if (isObj(n)) {
      objects.push(n);
      n.entries.forEach((e) => {
        places.push({ get: () => e[1], set: (v) => (e[1] = v) });
        walk(e[1]);
      });
    } else if (Array.isArray(n)) {
      n.forEach((x, i) => {
        places.push({ get: () => n[i], set: (v) => (n[i] = v) });
        walk(x);
      });
    }
  };
  walk(root.v);
  return { places, objects };
}

/** Applies mutations to a copy of a valid body. */
export function mutate(body: JNode, ms: Mutation[]): JNode {
  const root = { v: clone(body) };
  for (const m of ms) {
    const { places, objects } = slots(root);
    switch (m.kind) {
      case 'replace':
        places[m.at % places.length].set(m.value);
        break;
      case 'wrap': {
        const p = places[m.at % places.length];
        p.set(m.how === 'array' ? [p.get()] : obj([['value', p.get()]]));
        break;
      }
      case 'delete': {
        if (!objects.length) break;
        const o = objects[m.at % objects.length];
        if (o.entries.length) o.entries.splice(m.at % o.entries.length, 1);
        break;
      }
      case 'add': {
        if (!objects.length) break;
        objects[m.at % objects.length].entries.push([m.key, m.value]);
        break;
      }
      case 'duplicate': {
        if (!objects.length) break;
        const o = objects[m.at % objects.length];
        if (o.entries.length) o.entries.push([o.entries[m.at % o.entries.length][0], m.value]);
        break;
      }
    }
  }
  return root.v;
}

// ---- bodies -------------------------------------------------------------------------------

export interface HostileBody {
  /** How it was made, for failure messages. */
  label: string;
  bytes: Buffer;
  /** An unmodified valid body: the answer must be 200. */
  valid: boolean;
  /** Holds `__proto__` or `constructor.prototype`: the answer must be 400 (or 413 when too large). */
  forbiddenKey: boolean;
  /** Not JSON at all: 400 (or 413 when too large). */
  malformed: boolean;
  /** What the contract says the answer is (when the body is within the route's limit), if it says. */
  expectStatus?: number[];
}

/** The same body with a status the contract fixes for it. */
export const expecting = (b: HostileBody, ...statuses: number[]): HostileBody => withToString({ ...b, expectStatus: statuses });

const preview = (b: Buffer) => {
  const s = JSON.stringify(b.toString('latin1'));
  return s.length > 260 ? `${s.slice(0, 180)}…(${b.length} bytes)…${s.slice(-60)}` : s;
};

export function describeBody(b: HostileBody) {
  return `${b.label}: ${preview(b.bytes)}`;
}

const bodyOf = (label: string, node: JNode, valid = false): HostileBody => {
  const body: HostileBody = { label, bytes: serialize(node), valid, forbiddenKey: hasForbiddenKey(node), malformed: false };
  return withToString(body);
};
export const rawBody = (label: string, bytes: Buffer | string, malformed?: boolean): HostileBody => {
  const buf = Buffer.from(bytes);
  let isMalformed = malformed;
  if (isMalformed === undefined) {
    try {
      JSON.parse(new TextDecoder('utf-8', { fatal: false }).decode(buf));
      isMalformed = false;
    } catch {
      isMalformed = true;
    }
  }
  return withToString({ label, bytes: buf, valid: false, forbiddenKey: false, malformed: isMalformed });
};
function withToString(b: HostileBody): HostileBody {
  Object.defineProperty(b, fc.toStringMethod, { value: () => describeBody(b), enumerable: false });
  return b;
}

/** Text that is not JSON (or barely is). */
const garbage: fc.Arbitrary<HostileBody> = fc.oneof(
  fc.string({ maxLength: 60 }).map((s) => rawBody('random text', s)),
  fc.constantFrom('', ' ', '{', '{"query": ', '{"query":"a",}', "{'query':'a'}", '[1,2', 'NaN', 'Infinity', '{"query":"a"}{"query":"b"}', '\ufeff{"query":"a"}', '{"query":"\\x41"}', '{"query":"a\u0001b"}', 'nul', '"\\ud800"', '{"a":1e999999999}', '-', '--1', '01', '1.', '.5', '+1')
    .map((s) => rawBody('almost JSON', s)),
  fc.uint8Array({ maxLength: 40 }).map((a) => rawBody('random bytes', Buffer.from(a))),
);

export interface BodyArbitraryOptions {
  /** Valid bodies for the route, as trees. */
  valid: fc.Arbitrary<JNode>;
}

/** Bodies for one route: valid ones, mutated valid ones, random JSON, hostile trees, garbage. */
export function hostileBodies({ valid }: BodyArbitraryOptions): fc.Arbitrary<HostileBody> {
  return fc.oneof(
    { weight: 2, arbitrary: valid.map((v) => bodyOf('valid', v, true)) },
    {
      weight: 10,
      arbitrary: fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([v, ms]) => bodyOf(`mutated ${ms.map((m) => m.kind).join('+')}`, mutate(v, ms))),
    },
    { weight: 2, arbitrary: fc.json({ maxDepth: 4 }).map((t) => rawBody('fc.json', t, false)) },
    { weight: 2, arbitrary: hostileTree.map((t) => bodyOf('hostile tree', t)) },
    { weight: 1, arbitrary: protoPayload.map((t) => bodyOf('prototype payload', t)) },
    { weight: 1, arbitrary: deepNest.map((t) => bodyOf('deep nesting', t)) },
    { weight: 2, arbitrary: garbage },
  );
}

// ---- valid bodies per route ---------------------------------------------------------------

const QUERIES = [
  'I lost my card',
  'how do I top up by bank transfer?',
  'my new card still hasnt arrived',
  'what is the exchange rate',
  'why was I charged a fee',
  'how do I change my PIN',
];
export const validQuery: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...QUERIES),
  fc.tuple(fc.constantFrom(...QUERIES), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 30 })).map(([q, s]) => `${q} ${s}`.trim()),
);

export const intentBody = validQuery.map((q) => obj([['query', q]]));
export const intentBatchBody = fc.array(validQuery, { minLength: 1, maxLength: 5 }).map((qs) => obj([['queries', qs]]));

const CATEGORIES = ['grocery', 'restaurants', 'gas_transport', 'shopping', 'entertainment', 'health_fitness', 'home', 'kids_pets', 'personal_care', 'travel', 'misc'];
const T0 = Date.parse('2026-10-01T00:00:00Z');
const location = fc.record({ lat: fc.double({ min: -89, max: 89, noNaN: true }), lon: fc.double({ min: -179, max: 179, noNaN: true }) });
const txFields = fc.record({
  transaction_id: fc.stringMatching(/^tx-[a-z0-9]{4,12}$/),
  user_id: fc.stringMatching(/^hostile-u[0-9]{1,3}$/),
  // Money: whole cents (the detector refuses more than 4 decimals).
  amount: fc.integer({ min: 1, max: 5_000_000 }).map((cents) => cents / 100),
  currency: fc.constantFrom('GBP', 'EUR', 'USD'),
  merchant_category: fc.constantFrom(...CATEGORIES),
  channel: fc.constantFrom('online', 'in_store', 'atm'),
  merchant_location: fc.option(location, { nil: undefined }),
  home_location: fc.option(location, { nil: undefined }),
});
const txNode = (t: Record<string, unknown>, at: number) => {
  const { merchant_location, home_location, ...rest } = t;
  return fromJson({
    ...rest,
    timestamp: new Date(at).toISOString(),
    ...(merchant_location ? { merchant_location } : {}),
    ...(home_location ? { home_location } : {}),
  });
};
export const anomalyBody = fc.tuple(txFields, fc.integer({ min: 0, max: 50 * 86_400_000 })).map(([t, dt]) => txNode(t, T0 + dt));
export const anomalyBatchBody = fc
  .tuple(fc.array(txFields, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 40 * 86_400_000 }))
  .map(([ts, start]) => obj([['transactions', ts.map((t, i) => txNode(t, T0 + start + i * 3_600_000))]]));

export const intentInferBody = fc
  .record({
    id: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
    data: fc.array(validQuery, { minLength: 1, maxLength: 3 }),
    k: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
  })
  .map(({ id, data, k }) =>
    fromJson({
      ...(id !== undefined ? { id } : {}),
      inputs: [{ name: 'text', shape: [data.length], datatype: 'BYTES', data }],
      ...(k !== undefined ? { outputs: [{ name: 'probabilities', parameters: { classification: k } }] } : {}),
    }),
  );

/** Features of the anomaly model served by default (2.0.0, anomaly-features/2). */
export const FEATURE_COUNT = 25;
export const anomalyInferBody = fc
  .integer({ min: 1, max: 2 })
  .chain((rows) => fc.tuple(fc.constant(rows), fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: rows * FEATURE_COUNT, maxLength: rows * FEATURE_COUNT })))
  .map(([rows, data]) => fromJson({ inputs: [{ name: 'features', shape: [rows, FEATURE_COUNT], datatype: 'FP32', data }] }));

/** Fixed valid bodies, one per route kind (for "a normal request still answers normally"). */
export const NORMAL = {
  intent: obj([['query', 'I lost my card']]),
  intentBatch: obj([['queries', ['I lost my card', 'how do I change my PIN']]]),
  anomaly: fromJson({
    transaction_id: 'tx-normal-1',
    user_id: 'hostile-normal',
    amount: 42.3,
    currency: 'GBP',
    timestamp: '2026-11-20T12:30:00Z',
    merchant_category: 'grocery',
    channel: 'in_store',
  }),
  anomalyBatch: fromJson({
    transactions: [
      { transaction_id: 'tx-nb-1', user_id: 'hostile-normal-b', amount: 12, currency: 'GBP', timestamp: '2026-11-20T12:30:00Z', merchant_category: 'grocery', channel: 'in_store' },
      { transaction_id: 'tx-nb-2', user_id: 'hostile-normal-b', amount: 30, currency: 'GBP', timestamp: '2026-11-20T13:30:00Z', merchant_category: 'restaurants', channel: 'in_store' },
    ],
  }),
  intentInfer: fromJson({ id: 'normal', inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['what is the exchange rate'] }], outputs: [{ name: 'probabilities', parameters: { classification: 1 } }] }),
  anomalyInfer: fromJson({ inputs: [{ name: 'features', shape: [1, FEATURE_COUNT], datatype: 'FP32', data: Array.from({ length: FEATURE_COUNT }, (_, i) => (i % 5) / 10) }] }),
};

/** Where a field sits in each valid body kind, for "inside a valid field" cases. */
export const fieldHost = {
  intent: (v: JNode) => obj([['query', v]]),
  intentBatch: (v: JNode) => obj([['queries', [v]]]),
  anomaly: (v: JNode) => {
    const n = clone(NORMAL.anomaly) as JObject;
    n.entries = n.entries.map(([k, x]) => [k, k === 'amount' ? v : x]);
    return n;
  },
  anomalyBatch: (v: JNode) => obj([['transactions', [v]]]),
  intentInfer: (v: JNode) => fromJsonWith({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: '$' }] }, v),
  anomalyInfer: (v: JNode) => fromJsonWith({ inputs: [{ name: 'features', shape: [1, FEATURE_COUNT], datatype: 'FP32', data: '$' }] }, v),
};

/** A tree from a JSON value whose string "$" is replaced by `v`. */
function fromJsonWith(template: unknown, v: JNode): JNode {
  const swap = (n: JNode): JNode => {
    if (n === '$') return v;
    if (isObj(n)) return obj(n.entries.map(([k, x]) => [k, swap(x)]));
    if (Array.isArray(n)) return n.map(swap);
    return n;
  };
  return swap(fromJson(template));
}

export function bodyFor(label: string, node: JNode): HostileBody {
  return bodyOf(label, node);
}
