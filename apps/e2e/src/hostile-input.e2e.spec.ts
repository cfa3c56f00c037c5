import fc from 'fast-check';
import {
  BAD_UTF8,
  CANARY,
  EDGE_NUMBERS,
  HOSTILE_STRINGS,
  NORMAL,
  anomalyBatchBody,
  anomalyBody,
  anomalyInferBody,
  bodyFor,
  expecting,
  fieldHost,
  hostileBodies,
  intentBatchBody,
  intentBody,
  intentInferBody,
  nest,
  nestObj,
  obj,
  raw,
  rawBody,
  type HostileBody,
  type JNode,
  type JObject,
} from './support/hostile-arbitraries';
import {
  AUTH_HEADERS,
  ROUTES,
  RUNS,
  SEED,
  appsUnpolluted,
  assertProperty,
  describeSent,
  errorShapeProblems,
  gatewayEnv,
  normalStillWorks,
  processesUp,
  prototypeIntact,
  routeName,
  secretsInLogs,
  send,
  sendAndCheck,
  startStack,
  stopStack,
  violations,
  waitReady,
  type BodyKind,
  type Route,
  type Stack,
} from './support/hostile-stack';
import { http } from './support/http';
import { startApp, type RunningApp } from './support/processes';

/**
 * Hostile request bodies against the three BUILT apps, run as real processes: property-based
 * bodies (fast-check, seed HOSTILE_SEED, HOSTILE_RUNS runs per route) on every public POST route
 * of every app, a fixed table of edge bodies (deep nesting to 100,000, sizes around the limits,
 * NUL, lone surrogates, invalid UTF-8, number literals at the edges, prototype keys, duplicate
 * keys), and the two denial-of-service cases replayed. Every answer must be 2xx or 4xx (never
 * 5xx, never a hang), errors problem+json (or {"error"} on /v2), no secret anywhere, no
 * prototype polluted, every process still up.
 */

const VALID: Record<BodyKind, fc.Arbitrary<JNode>> = {
  intent: intentBody,
  intentBatch: intentBatchBody,
  anomaly: anomalyBody,
  anomalyBatch: anomalyBatchBody,
  intentInfer: intentInferBody,
  anomalyInfer: anomalyInferBody,
};

const routeCases = ROUTES.map((r) => [routeName(r), r] as const);
const predictCases = ROUTES.filter((r) => r.predict).map((r) => [routeName(r), r] as const);

/** A valid body with extra entries at its top level. */
const withEntries = (kind: BodyKind, entries: [string, JNode][]): JNode => {
  const n = NORMAL[kind] as JObject;
  return obj([...n.entries, ...entries]);
};

/** A body of exactly `size` bytes: the route's valid field holding a long string. */
function bodyOfSize(route: Route, size: number): HostileBody {
  const base = bodyFor('', fieldHost[route.kind]('')).bytes.length;
  return bodyFor(`${size}-byte body (limit ${route.limit})`, fieldHost[route.kind]('x'.repeat(Math.max(0, size - base))));
}

/** The fixed table of edge bodies every route gets, whatever the seed. */
function edgeBodies(route: Route): HostileBody[] {
  const host = fieldHost[route.kind];
  const first = (NORMAL[route.kind] as JObject).entries[0][0];
  const out: HostileBody[] = [];
  for (const size of [route.limit - 16, route.limit, route.limit + 1, 2 * route.limit, 5 * 1024 * 1024]) out.push(bodyOfSize(route, size));
  const textField = route.kind === 'intent' || route.kind === 'intentBatch';
  for (const s of HOSTILE_STRINGS) {
    const b = bodyFor(`string ${JSON.stringify(s)} in a valid field`, host(s));
    // An intent query is a non-empty string once trimmed.
    out.push(textField && s.trim() === '' ? expecting(b, 422) : b);
  }
  // At most 1,000 characters after trimming.
  out.push(textField ? expecting(bodyFor('1,001-character query', host('q'.repeat(1001))), 422) : bodyFor('1,001-character string', host('q'.repeat(1001))));
  if (textField) out.push(expecting(bodyFor('1,000-character query padded with spaces', host(`  ${'q'.repeat(1000)}  `)), 200));
  for (const b of BAD_UTF8) out.push(bodyFor(`invalid UTF-8 ${b.toString('hex')} in a valid field`, host(raw(Buffer.concat([Buffer.from('"I lost '), b, Buffer.from(' my card"')])))));
  for (const b of BAD_UTF8) out.push(rawBody(`invalid UTF-8 ${b.toString('hex')} as a key`, Buffer.concat([Buffer.from('{"'), b, Buffer.from('":1}')]), false));
  for (const n of EDGE_NUMBERS) {
    // A number where a string, an array or a transaction belongs is mistyped: 422. In the
    // transaction's amount, a number > 0, at most MAX_TRANSACTION_AMOUNT, written without an exponent.
    const x = Number(n);
    const amountOk = Number.isFinite(x) && x > 0 && x <= 1_000_000 && !/e/i.test(String(x)) && (String(x).split('.')[1] ?? '').length <= 4;
    out.push(expecting(bodyFor(`number ${n} in a valid field`, host(raw(n))), route.kind === 'anomaly' && amountOk ? 200 : 422));
  }
  const plant = obj([[CANARY, 'yes']]);
  const protos: [string, JNode][] = [
    ['__proto__', plant],
    ['constructor', obj([['prototype', plant]])],
    ['prototype', plant],
    ['constructor', 'x'],
    ['constructor', plant],
  ];
  for (const [k, v] of protos) {
    const top = bodyFor(`top-level ${k} beside valid fields`, withEntries(route.kind, [[k, v]]));
    // On /predict routes an unknown field, `constructor` and `prototype` included, is refused: 422 (400 for the forbidden keys).
    out.push(route.predict && !top.forbiddenKey ? expecting(top, 422) : top);
    out.push(bodyFor(`${k} inside a valid field`, host(obj([[k, v]]))));
    out.push(bodyFor(`${k} three levels down`, host([obj([['a', obj([['b', obj([[k, v]])]])]])])));
  }
  out.push(bodyFor('__proto__ as the only key', obj([['__proto__', plant]])));
  out.push(bodyFor('nested __proto__ in an array', [obj([['x', [obj([['__proto__', plant]])]]])]));
  out.push(rawBody('duplicate key, both strings', `{"${first}":"a","${first}":"b"}`, false));
  if (route.predict) out.push(expecting(bodyFor('an unknown extra field', withEntries(route.kind, [['extra', 1]])), 422));
  // JSON keeps a repeated key's last value: here a mistyped one.
  out.push(expecting(bodyFor('duplicate key: valid, then wrong type', withEntries(route.kind, [[first, 12]])), 422));
  out.push(bodyFor('duplicate key: wrong type, then valid', obj([[first, 12], ...(NORMAL[route.kind] as JObject).entries])));
  out.push(bodyFor('duplicate key: then a __proto__ object', withEntries(route.kind, [[first, obj([['__proto__', plant]])]])));
  // Well-formed JSON that is not the route's object: 422.
  for (const t of ['null', '[]', '{}', '"I lost my card"', '0', 'true', '[{"query":"I lost my card"}]', '1e999']) out.push(expecting(rawBody(`top-level ${t}`, t, false), 422));
  for (const t of ['', '   ', '{"query":', '\u0000', '{"query":"a"}garbage']) out.push(rawBody(`not JSON: ${JSON.stringify(t)}`, t, true));
  // Deep nesting last: today it can open the gateway's breaker, which would turn the cases after it into 503s.
  for (const d of [100, 1000, 1500, 8000, 10_000, 100_000]) {
    out.push(bodyFor(`top-level nesting ${d}`, raw(nest(d))));
    out.push(bodyFor(`nesting ${d} inside a valid field`, host(raw(nest(d)))));
  }
  for (const d of [1500, 8000]) out.push(bodyFor(`object nesting ${d} inside a valid field`, host(raw(nestObj(d)))));
  return out;
}

describe('hostile request bodies on every public route of every app', () => {
  let stack: Stack;
  beforeAll(async () => {
    // A breaker that recovers in 1 s keeps one failing case from turning later cases into 503s;
    // the breaker itself is tested below on a gateway with the default settings.
    stack = await startStack({ CIRCUIT_BREAKER_RECOVERY_TIMEOUT: '1' });
  }, 120_000);
  afterAll(async () => {
    await stopStack(stack);
  });

  describe(`property-based bodies (fast-check seed HOSTILE_SEED=${SEED}, ${RUNS} runs per route)`, () => {
    it.each(routeCases)(
      '%s: 2xx/4xx only, well-formed errors, no secret, no pollution, no hang',
      async (_name, route) => {
        await assertProperty(fc.tuple(hostileBodies({ valid: VALID[route.kind] }), fc.nat(AUTH_HEADERS.length - 1)), async ([body, auth]) => {
          await sendAndCheck(stack, route, body, auth);
        });
        expect(await normalStillWorks(stack, route)).toEqual([]);
      },
      120_000,
    );
  });

  describe('a fixed table of edge bodies', () => {
    it.each(routeCases)(
      '%s',
      async (_name, route) => {
        const failures: string[] = [];
        for (const [i, body] of edgeBodies(route).entries()) {
          const s = await send(stack, route, body, i);
          const v = violations(stack, s);
          if (v.length) failures.push(`${v.join('; ')}\n${describeSent(s)}`);
          if (processesUp(stack).length) break;
        }
        expect(failures).toEqual([]);
        expect(await normalStillWorks(stack, route)).toEqual([]);
      },
      120_000,
    );
  });

  describe('denial of service replayed: deep nesting on /predict/* answers 400 (nesting limit) or 422, never 500', () => {
    it.each(predictCases)(
      '%s',
      async (_name, route) => {
        const failures: string[] = [];
        for (const d of [1500, 8000]) {
          for (const body of [bodyFor(`top-level nesting ${d}`, raw(nest(d))), bodyFor(`nesting ${d} inside a valid field`, fieldHost[route.kind](raw(nest(d))))]) {
            const s = await send(stack, route, body);
            const problems = violations(stack, s);
            if (s.res && ![400, 422].includes(s.res.status)) problems.unshift(`answered ${s.res.status}, not 400 or 422`);
            if (problems.length) failures.push(`${problems.join('; ')}\n${describeSent(s)}`);
          }
        }
        expect(failures).toEqual([]);
      },
      60_000,
    );
  });

  describe('denial of service replayed: deeply nested infer bodies do not open the gateway breaker', () => {
    let gateway: RunningApp;
    beforeAll(async () => {
      // Default breaker settings (threshold 5): ten failures would open it.
      gateway = await startApp('gateway', gatewayEnv(stack.intent, stack.anomaly), 60_000);
      await waitReady(gateway.url);
    }, 90_000);
    afterAll(async () => {
      await gateway?.stop();
    });

    it('10 bodies nested 10,000 deep to /v2/models/intent-classifier/infer: each 4xx; then valid requests answer 200 and the breaker is closed', async () => {
      const key = AUTH_HEADERS[0];
      const bad = nest(10_000);
      // Everything is observed first and compared once, so a failure shows the whole picture.
      const nested: string[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await http(`${gateway.url}/v2/models/intent-classifier/infer`, { raw: bad, headers: { ...key, 'content-type': 'application/json', 'x-request-id': `dos-nest-${i}` } });
        const shape = r.status >= 400 ? errorShapeProblems({ status: r.status, statusLine: '', headers: r.headers as Record<string, string>, body: Buffer.from(r.text), text: r.text, json: r.json }, true) : [];
        nested.push(`${r.status}${shape.length ? ` (${shape.join(', ')})` : ''} ${r.text.slice(0, 160)}`);
      }
      const infer = await http(`${gateway.url}/v2/models/intent-classifier/infer`, {
        body: { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['what is the exchange rate'] }], outputs: [{ name: 'probabilities', parameters: { classification: 1 } }] },
        headers: key,
      });
      const predict = await http(`${gateway.url}/predict/intent`, { body: { query: 'I lost my card' }, headers: key });
      const health = await http(`${gateway.url}/monitoring/health`, { headers: key });
      const metrics = (await http(`${gateway.url}/metrics`)).text;
      const gauge = /^ml_circuit_breaker_state\{[^}]*upstream="intent-classifier"[^}]*\} (\S+)$/m.exec(metrics);
      const observed = {
        'nested bodies not answered 4xx with {"error"}': nested.filter((a) => !/^4\d\d [^(]/.test(a)),
        'valid infer': `${infer.status} ${infer.text.slice(0, 160)}`,
        'valid predict': `${predict.status} ${predict.text.slice(0, 160)}`,
        'breaker in /monitoring/health': health.json?.upstreams?.['intent-classifier']?.breaker,
        'ml_circuit_breaker_state{upstream="intent-classifier"}': gauge?.[1],
        'gateway exit code': gateway.proc.exitCode,
        'secrets in the gateway log': secretsInLogs({ ...stack, apps: [gateway] }),
      };
      expect(observed).toEqual({
        'nested bodies not answered 4xx with {"error"}': [],
        'valid infer': expect.stringMatching(/^200 .*"outputs"/),
        'valid predict': expect.stringMatching(/^200 .*"intent"/),
        'breaker in /monitoring/health': 'closed',
        'ml_circuit_breaker_state{upstream="intent-classifier"}': '0',
        'gateway exit code': null,
        'secrets in the gateway log': [],
      });
    }, 60_000);
  });

  describe('afterwards', () => {
    it('Object.prototype is untouched here, and the apps answer ordinary requests with no planted key', async () => {
      expect(prototypeIntact()).toEqual([]);
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, CANARY)).toBe(false);
      expect(await appsUnpolluted(stack)).toEqual([]);
    }, 60_000);

    it('every process is still up and live', async () => {
      expect(processesUp(stack)).toEqual([]);
      for (const app of stack.apps) expect([app.name, (await http(`${app.url}/health/live`)).status]).toEqual([app.name, 200]);
    });

    it('no secret (the configured API secret, the dev key) appears in any line any process wrote', async () => {
      await new Promise((r) => setTimeout(r, 200));
      expect(secretsInLogs(stack)).toEqual([]);
    });
  });
});
