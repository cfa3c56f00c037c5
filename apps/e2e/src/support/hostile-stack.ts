import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describeBody, type HostileBody, type JNode, CANARY, NORMAL, serialize } from './hostile-arbitraries';
import { http } from './http';
import { startApp, type AppName, type RunningApp } from './processes';
import { rawRequest, type RawExchange, type RawResponse } from './raw-http';

/**
 * The three built apps as real processes, wired together, for the hostile-input suites; the
 * route table; and the checks every answer to a hostile request must pass.
 */

export const DEV_KEY = 'ml-dev-key-do-not-use-in-production';
/** A configured secret (only its digest is in ML_API_KEYS): it must never be written anywhere. */
export const SECRET = 'hostile-suite-secret-9f2c41d7e0b3a6c5';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
export const SECRETS = [DEV_KEY, SECRET];
/** Alternate between the two ways a key travels, and between the two keys. */
export const AUTH_HEADERS: Record<string, string>[] = [{ 'X-API-Key': DEV_KEY }, { Authorization: `Bearer ${SECRET}` }];

/** fast-check settings: a fixed seed by default (override with HOSTILE_SEED), and the run count. */
export const SEED = Number(process.env['HOSTILE_SEED'] ?? 20261204);
export const RUNS = Number(process.env['HOSTILE_RUNS'] ?? 100);
/** Shrinking sends many more requests; off by default in CI, HOSTILE_SHRINK=1 turns it on. */
export const SHRINK = process.env['HOSTILE_SHRINK'] === '1';

/** Slow-client limits passed to every app (HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS). */
export const HEADERS_TIMEOUT_MS = 2000;
export const REQUEST_TIMEOUT_MS = 3000;

/** A response must arrive within this (a hang is a failure). Generous for a loaded 2-core CI box. */
export const ANSWER_TIMEOUT_MS = 15_000;

export const KB = 1024;
export const BODY_LIMIT = 64 * KB;
export const BATCH_BODY_LIMIT = 1024 * KB;

export interface Stack {
  gateway: RunningApp;
  intent: RunningApp;
  anomaly: RunningApp;
  apps: RunningApp[];
  byName: Record<AppName, RunningApp>;
}

export async function waitReady(url: string) {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await http(`${url}/health/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

const COMMON_ENV = {
  HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
  HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
  // Deadlines far from anything a loaded CI machine could hit: a 504 here would be noise.
  REQUEST_TIMEOUT_MS: '10000',
};

export function gatewayEnv(intent: RunningApp, anomaly: RunningApp, extra: Record<string, string> = {}) {
  return {
    ...COMMON_ENV,
    INTENT_CLASSIFIER_URL: intent.url,
    ANOMALY_DETECTOR_URL: anomaly.url,
    ML_API_KEYS: `dev:${sha(DEV_KEY)},hostile:${sha(SECRET)}`,
    RATE_LIMIT_REQUESTS: '1000000000',
    ...extra,
  };
}

/** Starts both model apps, then a gateway in front of them; resolves when all three are ready. */
export async function startStack(gatewayExtra: Record<string, string> = {}): Promise<Stack> {
  const [intent, anomaly] = await Promise.all([startApp('intent-classifier', COMMON_ENV, 60_000), startApp('anomaly-detector', COMMON_ENV, 60_000)]);
  await Promise.all([waitReady(intent.url), waitReady(anomaly.url)]);
  const gateway = await startApp('gateway', gatewayEnv(intent, anomaly, gatewayExtra), 60_000);
  await waitReady(gateway.url);
  // The gateway learns the served model versions from its upstreams.
  for (let i = 0; i < 100; i++) {
    const h = await http(`${gateway.url}/health/ready`);
    const ups = h.json?.details?.upstreams;
    if (ups?.['intent-classifier']?.version && ups?.['anomaly-detector']?.version) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { gateway, intent, anomaly, apps: [gateway, intent, anomaly], byName: { gateway, 'intent-classifier': intent, 'anomaly-detector': anomaly } };
}

export async function stopStack(stack: Partial<Stack> | undefined) {
  await Promise.all([stack?.gateway?.stop(), stack?.intent?.stop(), stack?.anomaly?.stop()]);
}

// ---- routes -------------------------------------------------------------------------------

export type BodyKind = keyof typeof NORMAL;

export interface Route {
  app: AppName;
  path: string;
  kind: BodyKind;
  /** The body limit the contract gives this route. */
  limit: number;
  /** Errors are `{"error"}` (Open Inference Protocol) rather than problem+json. */
  v2: boolean;
  /** A /predict/* route (the nesting-limit replays run on these). */
  predict: boolean;
}

const ROUTES_OF: Record<AppName, Omit<Route, 'app'>[]> = {
  gateway: [
    { path: '/predict/intent', kind: 'intent', limit: BODY_LIMIT, v2: false, predict: true },
    { path: '/predict/intent/batch', kind: 'intentBatch', limit: BATCH_BODY_LIMIT, v2: false, predict: true },
    { path: '/predict/anomaly', kind: 'anomaly', limit: BODY_LIMIT, v2: false, predict: true },
    { path: '/predict/anomaly/batch', kind: 'anomalyBatch', limit: BATCH_BODY_LIMIT, v2: false, predict: true },
    { path: '/v2/models/intent-classifier/infer', kind: 'intentInfer', limit: BATCH_BODY_LIMIT, v2: true, predict: false },
    { path: '/v2/models/anomaly-detector/infer', kind: 'anomalyInfer', limit: BATCH_BODY_LIMIT, v2: true, predict: false },
  ],
  'intent-classifier': [
    { path: '/predict/intent', kind: 'intent', limit: BODY_LIMIT, v2: false, predict: true },
    { path: '/predict/intent/batch', kind: 'intentBatch', limit: BATCH_BODY_LIMIT, v2: false, predict: true },
    { path: '/v2/models/intent-classifier/infer', kind: 'intentInfer', limit: BATCH_BODY_LIMIT, v2: true, predict: false },
  ],
  'anomaly-detector': [
    { path: '/predict/anomaly', kind: 'anomaly', limit: BODY_LIMIT, v2: false, predict: true },
    { path: '/predict/anomaly/batch', kind: 'anomalyBatch', limit: BATCH_BODY_LIMIT, v2: false, predict: true },
    { path: '/v2/models/anomaly-detector/infer', kind: 'anomalyInfer', limit: BATCH_BODY_LIMIT, v2: true, predict: false },
  ],
};
export const ROUTES: Route[] = (Object.keys(ROUTES_OF) as AppName[]).flatMap((app) => ROUTES_OF[app].map((r) => ({ ...r, app })));
export const routeName = (r: Route) => `${r.app} POST ${r.path}`;

// ---- sending and checking -----------------------------------------------------------------

let counter = 0;
/** A request id of our own on every hostile request, so a failure can be found in the app logs. */
export const nextRequestId = (prefix = 'hostile') => `${prefix}-${process.pid}-${++counter}`;

export interface Sent {
  route: Route;
  requestId: string;
  body: HostileBody;
  ex: RawExchange;
  res?: RawResponse;
  ms: number;
}

/** POSTs a body to a route on its own connection, with a key and a request id of ours. */
export async function send(stack: Stack, route: Route, body: HostileBody, authIndex = 0, contentType = 'application/json'): Promise<Sent> {
  const app = stack.byName[route.app];
  const requestId = nextRequestId();
  const started = Date.now();
  const ex = await rawRequest(
    app.port,
    { method: 'POST', path: route.path, body: body.bytes, contentType, headers: { 'X-Request-Id': requestId, ...AUTH_HEADERS[authIndex % AUTH_HEADERS.length] } },
    { timeoutMs: ANSWER_TIMEOUT_MS },
  );
  return { route, requestId, body, ex, res: ex.responses.find((r) => r.status >= 200), ms: Date.now() - started };
}

const short = (s: string, n = 600) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);

export function describeSent(s: Sent) {
  const r = s.res;
  const answer = r
    ? `${r.status} ${JSON.stringify(r.headers['content-type'] ?? '')} x-request-id=${JSON.stringify(r.headers['x-request-id'] ?? null)}${r.headers['retry-after'] ? ` retry-after=${r.headers['retry-after']}` : ''} body=${short(r.text)}`
    : `NO RESPONSE (closed=${s.ex.closed} timedOut=${s.ex.timedOut} error=${s.ex.error ?? '-'} bytes=${short(s.ex.data.toString('latin1'), 200)})`;
  return `${routeName(s.route)} [${s.requestId}, ${s.ms} ms]\n  sent ${describeBody(s.body)}\n  got  ${answer}`;
}

/** Walks a parsed JSON answer for the canary key an attacker tried to plant. */
export function hasPollutedKey(v: unknown, depth = 0): boolean {
  if (depth > 200 || v === null || typeof v !== 'object') return false;
  if (Object.prototype.hasOwnProperty.call(v, CANARY)) return true;
  return Object.values(v as Record<string, unknown>).some((x) => hasPollutedKey(x, depth + 1));
}

/** This test process's Object.prototype carries nothing an answer could have planted. */
export function prototypeIntact(): string[] {
  const problems: string[] = [];
  const plain: Record<string, unknown> = {};
  if (plain[CANARY] !== undefined) problems.push(`({}).${CANARY} is ${String(plain[CANARY])}`);
  const own = Object.getOwnPropertyNames(Object.prototype).sort().join(',');
  if (own !== PROTO_NAMES) problems.push(`Object.prototype own names changed: ${own}`);
  if (Object.getPrototypeOf(Object.prototype) !== null) problems.push('Object.prototype has a prototype');
  return problems;
}
const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort().join(',');

const PROBLEM_FIELDS = ['type', 'title', 'status', 'detail', 'request_id'] as const;

/**
 * What every error answer must look like: problem+json with the RFC 9457 fields and our request
 * id (or `{"error": "..."}` on /v2 paths), and an X-Request-Id header. Returns what is wrong.
 */
export function errorShapeProblems(res: RawResponse, v2: boolean, requestId?: string): string[] {
  const problems: string[] = [];
  const ct = res.headers['content-type'] ?? '';
  const rid = res.headers['x-request-id'];
  if (!rid) problems.push('no X-Request-Id header');
  else if (requestId && rid !== requestId) problems.push(`X-Request-Id is ${rid}, not ours (${requestId})`);
  if (v2) {
    if (!/^application\/json/i.test(ct)) problems.push(`content-type ${JSON.stringify(ct)} is not application/json`);
    const j = res.json;
    if (typeof j !== 'object' || j === null || typeof j.error !== 'string' || !j.error) problems.push('body is not {"error": "..."}');
  } else {
    if (!/^application\/problem\+json/i.test(ct)) problems.push(`content-type ${JSON.stringify(ct)} is not application/problem+json`);
    const j = res.json;
    if (typeof j !== 'object' || j === null) problems.push('body is not a JSON object');
    else {
      const missing = PROBLEM_FIELDS.filter((f) => j[f] === undefined || j[f] === null || j[f] === '');
      if (missing.length) problems.push(`problem lacks ${missing.join(', ')}`);
      if (j.status !== undefined && j.status !== res.status) problems.push(`problem status ${j.status} differs from ${res.status}`);
      if (rid && j.request_id !== undefined && j.request_id !== rid) problems.push(`problem request_id ${j.request_id} differs from the header ${rid}`);
    }
  }
  return problems;
}

export function processesUp(stack: Stack): string[] {
  return stack.apps.filter((a) => a.proc.exitCode !== null || a.proc.signalCode !== null).map((a) => `${a.name} exited (code ${a.proc.exitCode}, signal ${a.proc.signalCode})`);
}

/**
 * Everything that must hold for the answer to one hostile body. Returns the list of violations
 * (empty when the answer is acceptable).
 */
export function violations(stack: Stack, s: Sent): string[] {
  const out: string[] = [];
  const r = s.res;
  const v2 = s.route.v2;
  const size = s.body.bytes.length;
  if (!r) {
    out.push(s.ex.timedOut ? `no answer within ${ANSWER_TIMEOUT_MS} ms (hang)` : `connection closed without an answer (${s.ex.error ?? 'clean close'})`);
  } else {
    if (r.status >= 500) out.push(`5xx: ${r.status}`);
    else if (r.status < 200 || (r.status >= 300 && r.status < 400)) out.push(`unexpected status ${r.status}`);
    if (r.status >= 400) out.push(...errorShapeProblems(r, v2, s.requestId));
    else if (!r.headers['x-request-id']) out.push('no X-Request-Id header');
    if (r.status >= 200 && r.status < 300) {
      if (r.json === undefined) out.push('2xx body is not JSON');
      if (hasPollutedKey(r.json)) out.push(`2xx body carries the planted key ${CANARY}`);
    }
    // What the contract says about particular bodies.
    if (size > s.route.limit && r.status !== 413) out.push(`body of ${size} bytes over the ${s.route.limit}-byte limit answered ${r.status}, not 413`);
    if (size <= s.route.limit && r.status === 413) out.push(`body of ${size} bytes within the ${s.route.limit}-byte limit answered 413`);
    if (size <= s.route.limit) {
      if (s.body.valid && r.status !== 200) out.push(`a valid body answered ${r.status}, not 200`);
      if (s.body.forbiddenKey && r.status !== 400) out.push(`a body with __proto__ / constructor.prototype answered ${r.status}, not 400`);
      if (s.body.malformed && r.status !== 400) out.push(`a body that is not JSON answered ${r.status}, not 400`);
      if (s.body.expectStatus && !s.body.expectStatus.includes(r.status)) out.push(`answered ${r.status}; the contract says ${s.body.expectStatus.join(' or ')}`);
    }
  }
  const all = s.ex.data.toString('latin1');
  for (const secret of SECRETS) if (all.includes(secret)) out.push(`the answer contains the secret ${secret.slice(0, 6)}…`);
  out.push(...prototypeIntact());
  out.push(...processesUp(stack));
  return out;
}

/** Sends, checks, and throws one readable error naming every violation. */
export async function sendAndCheck(stack: Stack, route: Route, body: HostileBody, authIndex = 0) {
  const s = await send(stack, route, body, authIndex);
  const v = violations(stack, s);
  if (v.length) throw new Error(`${v.join('; ')}\n${describeSent(s)}`);
  return s;
}

/** fc.assert with the suite's seed and run count; a failure names the seed to replay it. */
export async function assertProperty<T>(arb: fc.Arbitrary<T>, predicate: (t: T) => Promise<void>, runs = RUNS) {
  try {
    await fc.assert(fc.asyncProperty(arb, predicate), { seed: SEED, numRuns: runs, endOnFailure: !SHRINK, verbose: 0 });
  } catch (e) {
    const err = e as Error & { cause?: unknown };
    const cause = err.cause instanceof Error ? `\nFailure: ${err.cause.message}` : '';
    err.message = `[HOSTILE_SEED=${SEED} HOSTILE_RUNS=${runs}; replay with these env vars, HOSTILE_SHRINK=1 to shrink]${cause}\n${err.message}`;
    throw err;
  }
}

/** A known-good request to a route still answers 200 with no planted key. */
export async function normalStillWorks(stack: Stack, route: Route): Promise<string[]> {
  const body: HostileBody = { label: 'normal', bytes: serialize(NORMAL[route.kind] as JNode), valid: true, forbiddenKey: false, malformed: false };
  const s = await send(stack, route, body, 1);
  return violations(stack, s).map((v) => `${v}\n${describeSent(s)}`);
}

/** Every secret that shows up in a line an app wrote. */
export function secretsInLogs(stack: Stack): string[] {
  const out: string[] = [];
  for (const app of stack.apps) {
    for (const line of app.lines) {
      for (const secret of SECRETS) if (line.includes(secret)) out.push(`${app.name} logged ${secret.slice(0, 6)}…: ${short(line, 300)}`);
    }
  }
  return out;
}

/** Asks every app a few ordinary questions and looks for the planted key in the answers. */
export async function appsUnpolluted(stack: Stack): Promise<string[]> {
  const out: string[] = [];
  const key = AUTH_HEADERS[0];
  const gets: [RunningApp, string, Record<string, string>][] = [
    [stack.gateway, '/monitoring/health', key],
    [stack.gateway, '/monitoring/statistics', key],
    [stack.gateway, '/health/ready', {}],
    [stack.gateway, '/v2/models/intent-classifier', key],
    [stack.intent, '/v2/models/intent-classifier', {}],
    [stack.intent, '/health/ready', {}],
    [stack.anomaly, '/v2/models/anomaly-detector', {}],
    [stack.anomaly, '/health/ready', {}],
  ];
  for (const [app, path, headers] of gets) {
    const r = await http(app.url + path, { headers });
    if (r.status !== 200) out.push(`${app.name} GET ${path} answered ${r.status}: ${short(r.text)}`);
    if (hasPollutedKey(r.json) || r.text.includes(CANARY)) out.push(`${app.name} GET ${path} shows the planted key: ${short(r.text)}`);
  }
  for (const route of ROUTES) out.push(...(await normalStillWorks(stack, route)));
  return out;
}
