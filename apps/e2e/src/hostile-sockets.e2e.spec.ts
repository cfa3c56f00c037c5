import {
  DEV_KEY,
  HEADERS_TIMEOUT_MS,
  REQUEST_TIMEOUT_MS,
  errorShapeProblems,
  nextRequestId,
  processesUp,
  secretsInLogs,
  startStack,
  stopStack,
  type Stack,
} from './support/hostile-stack';
import { http } from './support/http';
import type { AppName } from './support/processes';
import { rawExchange, type RawExchange, type RawResponse } from './support/raw-http';

/**
 * Hostile bytes on raw sockets against the three BUILT apps: oversized and malformed headers,
 * slow clients, an HTTP/2 preface, pipelining around a bad request, wrong methods, and
 * `Expect: 100-continue` over the limit. Every error answer must be problem+json (or {"error"}
 * on /v2) and carry an X-Request-Id header. The apps get HTTP_HEADERS_TIMEOUT_MS=2000 and
 * HTTP_REQUEST_TIMEOUT_MS=3000 so slow clients are cut off quickly.
 */

/** How much later than the configured timeout a slow client may still be connected (a loaded CI box). */
const SLACK_MS = 5000;

const APPS: AppName[] = ['gateway', 'intent-classifier', 'anomaly-detector'];
const PREDICT: Record<AppName, string[]> = {
  gateway: ['/predict/intent', '/predict/intent/batch', '/predict/anomaly', '/predict/anomaly/batch'],
  'intent-classifier': ['/predict/intent', '/predict/intent/batch'],
  'anomaly-detector': ['/predict/anomaly', '/predict/anomaly/batch'],
};
const INFER: Record<AppName, string[]> = {
  gateway: ['/v2/models/intent-classifier/infer', '/v2/models/anomaly-detector/infer'],
  'intent-classifier': ['/v2/models/intent-classifier/infer'],
  'anomaly-detector': ['/v2/models/anomaly-detector/infer'],
};
/** A valid body for each app's first predict route. */
const GOOD_BODY: Record<AppName, string> = {
  gateway: JSON.stringify({ query: 'I lost my card' }),
  'intent-classifier': JSON.stringify({ query: 'I lost my card' }),
  'anomaly-detector': JSON.stringify({
    transaction_id: 'tx-pipe-1',
    user_id: 'hostile-pipe',
    amount: 12.5,
    currency: 'GBP',
    timestamp: '2026-11-20T12:30:00Z',
    merchant_category: 'grocery',
    channel: 'in_store',
  }),
};

const head = (lines: string[]) => lines.join('\r\n') + '\r\n\r\n';
const keyHeader = `X-API-Key: ${DEV_KEY}`;

const shown = (ex: RawExchange) => {
  const t = ex.data.toString('latin1');
  return `${JSON.stringify(t.length > 700 ? `${t.slice(0, 700)}…(${t.length} bytes)` : t)} (closed=${ex.closed}${ex.closedAfterMs !== undefined ? ` after ${ex.closedAfterMs} ms` : ''}, timedOut=${ex.timedOut}, error=${ex.error ?? '-'})`;
};

/** The answer must be `status` (one of), error-shaped, with an X-Request-Id; returns what is wrong. */
function expectError(ex: RawExchange, statuses: number[], v2 = false): string[] {
  const finals = ex.responses.filter((r) => r.status >= 200);
  const res: RawResponse | undefined = finals[0];
  if (!res) return [`no answer: ${shown(ex)}`];
  const problems: string[] = [];
  if (!statuses.includes(res.status)) problems.push(`status ${res.status}, expected ${statuses.join(' or ')}`);
  problems.push(...errorShapeProblems(res, v2));
  return problems.length ? [`${problems.join('; ')} — got ${shown(ex)}`] : [];
}

describe('hostile sockets against every app', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 120_000);
  afterAll(async () => {
    await stopStack(stack);
  });
  const port = (app: AppName) => stack.byName[app].port;

  describe.each(APPS)('%s', (app) => {
    const predict = PREDICT[app][0];

    it('a header over 60 KB: 431', async () => {
      const ex = await rawExchange(port(app), head([`POST ${predict} HTTP/1.1`, 'Host: x', keyHeader, `X-Big: ${'a'.repeat(61 * 1024)}`, 'Content-Type: application/json', 'Content-Length: 2']) + '{}', {
        stopAfterResponses: 1,
      });
      expect(expectError(ex, [431])).toEqual([]);
    });

    it.each([
      ['a bare CR', 'X-Bad: a\rb'],
      ['a bare LF', 'X-Bad: a\nb'],
      ['a NUL', 'X-Bad: a\u0000b'],
      ['a control character (0x01)', 'X-Bad: a\u0001b'],
      ['an escape (0x1b)', 'X-Bad: a\u001bb'],
      ['DEL (0x7f)', 'X-Bad: a\u007fb'],
    ])('%s inside a header value: 400', async (_what, header) => {
      const ex = await rawExchange(port(app), head([`POST ${predict} HTTP/1.1`, 'Host: x', keyHeader, header, 'Content-Type: application/json', 'Content-Length: 2']) + '{}', {
        stopAfterResponses: 1,
      });
      expect(expectError(ex, [400])).toEqual([]);
    });

    it('a URL over 16 KB: 414 or 431', async () => {
      const ex = await rawExchange(port(app), head([`GET ${predict}?q=${'a'.repeat(17 * 1024)} HTTP/1.1`, 'Host: x', keyHeader]), { stopAfterResponses: 1 });
      expect(expectError(ex, [414, 431])).toEqual([]);
    });

    it('an HTTP/2 preface on the HTTP/1.1 port: 400', async () => {
      const ex = await rawExchange(port(app), 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', { stopAfterResponses: 1 });
      expect(expectError(ex, [400])).toEqual([]);
    });

    it.each([
      ['a header line without a colon', (p: string) => head([`GET ${p} HTTP/1.1`, 'Host: x', 'X-Bad header line'])],
      ['Content-Length and Transfer-Encoding together', (p: string) => head([`POST ${p} HTTP/1.1`, 'Host: x', 'Content-Type: application/json', 'Content-Length: 4', 'Transfer-Encoding: chunked']) + '0\r\n\r\n'],
      ['two different Content-Lengths', (p: string) => head([`POST ${p} HTTP/1.1`, 'Host: x', 'Content-Type: application/json', 'Content-Length: 2', 'Content-Length: 3']) + '{}'],
    ])('pipelined good, then %s, then good: 200, 400, connection closed (nothing misparsed)', async (_what, bad) => {
      const body = GOOD_BODY[app];
      const good = head([`POST ${predict} HTTP/1.1`, 'Host: x', keyHeader, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`]) + body;
      const third = head([`GET /health/live HTTP/1.1`, 'Host: x']);
      const ex = await rawExchange(port(app), good + bad(predict) + third, { timeoutMs: 15_000 });
      const statuses = ex.responses.filter((r) => r.status >= 200).map((r) => r.status);
      expect([statuses, shown(ex)]).toEqual([[200, 400], shown(ex)]);
      expect(errorShapeProblems(ex.responses.filter((r) => r.status >= 200)[1], false)).toEqual([]);
      expect([ex.closed, ex.timedOut]).toEqual([true, false]);
    });

    it.each(['PUT', 'DELETE', 'PATCH', 'GET'])('%s on every /predict route: 405 with Allow: POST', async (method) => {
      const failures: string[] = [];
      for (const path of PREDICT[app]) {
        const rid = nextRequestId('method');
        const ex = await rawExchange(
          port(app),
          head([`${method} ${path} HTTP/1.1`, 'Host: x', keyHeader, `X-Request-Id: ${rid}`, 'Connection: close', ...(method === 'GET' ? [] : ['Content-Type: application/json', 'Content-Length: 2'])]) + (method === 'GET' ? '' : '{}'),
          { stopAfterResponses: 1 },
        );
        const problems = expectError(ex, [405]);
        const allow = ex.responses.find((r) => r.status >= 200)?.headers['allow'];
        if (allow !== 'POST') problems.push(`Allow header is ${JSON.stringify(allow ?? null)}, not "POST"`);
        if (problems.length) failures.push(`${method} ${path}: ${problems.join('; ')}`);
      }
      expect(failures).toEqual([]);
    });

    it.each(['PUT', 'DELETE'])('%s on /v2/models/{name}/infer: 405 with Allow: POST, {"error"}, never forwarded', async (method) => {
      const failures: string[] = [];
      for (const path of INFER[app]) {
        const rid = nextRequestId('v2method');
        const ex = await rawExchange(
          port(app),
          head([`${method} ${path} HTTP/1.1`, 'Host: x', keyHeader, `X-Request-Id: ${rid}`, 'Connection: close', 'Content-Type: application/json', 'Content-Length: 2']) + '{}',
          { stopAfterResponses: 1 },
        );
        const problems = expectError(ex, [405], true);
        const allow = ex.responses.find((r) => r.status >= 200)?.headers['allow'];
        if (allow !== 'POST') problems.push(`Allow header is ${JSON.stringify(allow ?? null)}, not "POST"`);
        if (app === 'gateway') {
          await new Promise((r) => setTimeout(r, 150));
          for (const upstream of [stack.intent, stack.anomaly]) {
            if (upstream.lines.some((l) => l.includes(rid))) problems.push(`forwarded to ${upstream.name}`);
          }
        }
        if (problems.length) failures.push(`${method} ${path}: ${problems.join('; ')}`);
      }
      expect(failures).toEqual([]);
    });

    it('Expect: 100-continue with a Content-Length over the limit: 413 before any 100 Continue', async () => {
      const failures: string[] = [];
      for (const path of [...PREDICT[app], ...INFER[app]]) {
        const ex = await rawExchange(
          port(app),
          head([`POST ${path} HTTP/1.1`, 'Host: x', keyHeader, 'Content-Type: application/json', `Content-Length: ${10 * 1024 * 1024}`, 'Expect: 100-continue']),
          { stopAfterResponses: 1, timeoutMs: 10_000 },
        );
        const problems = expectError(ex, [413], path.startsWith('/v2/'));
        if (ex.responses[0]?.status === 100) problems.unshift('100 Continue came first');
        if (problems.length) failures.push(`${path}: ${problems.join('; ')}`);
      }
      expect(failures).toEqual([]);
    });
  });

  describe('slow clients (all apps at once)', () => {
    it(`slow headers are cut off with 408 within HTTP_HEADERS_TIMEOUT_MS (${HEADERS_TIMEOUT_MS} ms) + ${SLACK_MS} ms; a slow body within HTTP_REQUEST_TIMEOUT_MS (${REQUEST_TIMEOUT_MS} ms) + ${SLACK_MS} ms`, async () => {
      const slowHeaders = APPS.map(async (app) => {
        const ex = await rawExchange(port(app), `POST ${PREDICT[app][0]} HTTP/1.1\r\nHost: x\r\n`, {
          trickle: `X-Slow: ${'a'.repeat(200)}`,
          intervalMs: 200,
          timeoutMs: HEADERS_TIMEOUT_MS + SLACK_MS + 1000,
        });
        const problems: string[] = [];
        if (!ex.closed || (ex.closedAfterMs ?? Infinity) > HEADERS_TIMEOUT_MS + SLACK_MS) {
          problems.push(`still open after ${HEADERS_TIMEOUT_MS + SLACK_MS} ms`);
        }
        // expectError shows what came back.
        problems.push(...expectError(ex, [408]));
        return problems.length ? [`${app} slow headers: ${problems.join('; ')}`] : [];
      });
      const slowBody = APPS.map(async (app) => {
        const ex = await rawExchange(
          port(app),
          head([`POST ${PREDICT[app][0]} HTTP/1.1`, 'Host: x', keyHeader, 'Content-Type: application/json', 'Content-Length: 200']),
          { trickle: `{"query":"${'a'.repeat(300)}`, intervalMs: 200, timeoutMs: REQUEST_TIMEOUT_MS + SLACK_MS + 2000 },
        );
        const problems: string[] = [];
        if (!ex.closed || (ex.closedAfterMs ?? Infinity) > REQUEST_TIMEOUT_MS + SLACK_MS) {
          problems.push(`still open after ${REQUEST_TIMEOUT_MS + SLACK_MS} ms`);
        }
        // An answer is not required (the server may just close), but one that comes must be an error-shaped 4xx.
        if (problems.length) problems.push(`got ${shown(ex)}`);
        if (ex.responses.some((r) => r.status >= 200)) problems.push(...expectError(ex, [408, 400, 413]));
        return problems.length ? [`${app} slow body: ${problems.join('; ')}`] : [];
      });
      const failures = (await Promise.all([...slowHeaders, ...slowBody])).flat();
      expect(failures).toEqual([]);
    }, 30_000);
  });

  describe('afterwards', () => {
    it('every process is still up, live, and answers a normal request', async () => {
      expect(processesUp(stack)).toEqual([]);
      for (const app of stack.apps) expect([app.name, (await http(`${app.url}/health/live`)).status]).toEqual([app.name, 200]);
      const ok = await http(`${stack.gateway.url}/predict/intent`, { body: { query: 'I lost my card' }, headers: { 'x-api-key': DEV_KEY } });
      expect(ok.status).toBe(200);
    });

    it('no secret appears in any line any process wrote', async () => {
      await new Promise((r) => setTimeout(r, 200));
      expect(secretsInLogs(stack)).toEqual([]);
    });
  });
});
