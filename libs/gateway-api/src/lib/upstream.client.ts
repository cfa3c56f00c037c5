import { CircuitBreaker, Deadline, isTimeoutError, RetryBudget, RetryPolicy, TimeoutPolicy, type CallContext } from '@ml/resilience';
import { SHED_HEADER } from '@ml/admission';
import { ServiceError } from '@ml/errors';
import type { RedisBudget } from '@ml/redis';
import { UpstreamPool, systemResolver, type AttemptOutcome, type Endpoint, type Resolver, type Target } from '@ml/upstream-pool';
import { Pool } from 'undici';
import type { BreakerSettings, EndpointSettings } from './gateway.config';
import { UpstreamHttpError, UpstreamUnavailableError, isRetryableUpstreamError } from './upstream.errors';

export interface UpstreamResponse<T = unknown> {
  status: number;
  body: T;
  retryAfter?: string;
  /** The upstream's `Allow` on a 405, relayed so the client learns which methods exist. */
  allow?: string;
}

export interface CallOptions {
  requestId: string;
  /** Remaining budget of the client's request, ms. */
  budgetMs: number;
  /** The request's Redis budget (set by the rate-limit guard), shared by its cache lookups. */
  redisBudget?: RedisBudget;
}

/**
 * Only the upstream's own failures count against its breaker: never what a client sent, never our
 * own bugs. A timeout counts only when the attempt was given at least `timeoutCountsFromMs`: one
 * that ran out of a budget a client chose to keep short (`X-Request-Timeout-Ms: 100`) says nothing
 * about the upstream, and under load such timeouts would open the breaker for every client.
 */
const isUpstreamFault = (e: unknown, timeoutCountsFromMs: number) =>
  e instanceof UpstreamUnavailableError || e instanceof UpstreamHttpError || (isTimeoutError(e) && e.timeoutMs >= timeoutCountsFromMs);

/** A 503 the model app answered by shedding load: its overload, not a fault of the upstream. */
const isShed = (status: number, headers: Record<string, string | string[] | undefined>, text: string) =>
  status === 503 && (headers[SHED_HEADER] === '1' || text.includes('"urn:ml-services:problem:overloaded"'));

/** The request never left: no connection was made. Safe to send anywhere, whatever the model does. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET_BEFORE_SEND']);
/**
 * The connection broke before any byte of the answer: the endpoint died or closed the socket
 * (a restart, a stale keep-alive socket). The request may have been received and processed.
 */
const BROKEN_BEFORE_ANSWER = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

export interface UpstreamClientSettings {
  breaker: BreakerSettings;
  retry: { maxAttempts: number; baseDelayMs: number; budgetRatio: number };
  /** Connections per endpoint. */
  connections: number;
  /** Timeouts of attempts given less than this are the client's short budget, not a fault. Default: the slow-call time. */
  timeoutCountsFromMs?: number;
  /** Ejection and DNS. Default: eject after 3 failures or 1 failed poll, re-admit after 2 good polls, no DNS lookups. */
  endpoints?: EndpointSettings;
  /**
   * The model has no side effects (the intent classifier): a request whose connection broke before
   * any answer may be sent again to another endpoint. False for the anomaly detector, whose answer
   * depends on a history the first attempt may already have changed.
   */
  retrySentRequests?: boolean;
  /** Looks names up; default the system resolver (`dns.promises.lookup`, all addresses). */
  resolver?: Resolver;
}

/** One attempt on one endpoint, for metrics. */
export interface AttemptEvent {
  upstream: string;
  endpoint: string;
  outcome: AttemptOutcome;
}

const DEFAULT_ENDPOINTS: EndpointSettings = { dnsRefreshMs: 0, ejectAfterFailures: 3, ejectAfterFailedPolls: 1, readmitAfterPolls: 2 };

/**
 * One model service: its endpoints (one URL, several, or a name's addresses: @ml/upstream-pool),
 * a keep-alive pool per endpoint, and the resilience pipeline: retry (connect failures and 503 with
 * Retry-After only, within a budget and the deadline) around a breaker around a per-try timeout
 * that aborts the socket. Each attempt goes to the less busy of two admitted endpoints and a retry
 * to one the call has not tried yet, at once.
 *
 * Endpoint failures eject the endpoint; they count against the model's breaker only when no other
 * endpoint is admitted, so the breaker opens only when no endpoint is left (with one URL: every
 * failure counts, as before there were several).
 *
 * Upstream 4xx answers are returned, not thrown: they are the client's fault and do not count
 * against the upstream. So is a 503 the model app answered by shedding load (see @ml/admission):
 * passed to the client with its Retry-After, never retried and never counted against the breaker
 * or the endpoint, or overload would turn into an outage.
 */
export class UpstreamClient {
  readonly breaker: CircuitBreaker;
  readonly retry: RetryPolicy;
  readonly pool: UpstreamPool;
  private readonly timeout = new TimeoutPolicy({});
  private readonly dispatchers = new Map<string, Pool>();
  /** Failures of an endpoint while another was admitted: not the model's fault, not the breaker's business. */
  private readonly spared = new WeakSet<object>();
  private readonly attemptListeners: ((e: AttemptEvent) => void)[] = [];
  private readonly isFault: (e: unknown) => boolean;
  private readonly dnsRefreshMs: number;
  private refresher?: ReturnType<typeof setInterval>;
  private lastEjectRefresh = -Infinity;

  constructor(
    readonly name: string,
    targets: Target[],
    private readonly settings: UpstreamClientSettings,
  ) {
    const b = settings.breaker;
    const ep = settings.endpoints ?? DEFAULT_ENDPOINTS;
    this.dnsRefreshMs = ep.dnsRefreshMs;
    this.isFault = (e) => isUpstreamFault(e, settings.timeoutCountsFromMs ?? b.slowCallMs);
    this.pool = new UpstreamPool({
      name,
      targets,
      ejectAfterFailures: ep.ejectAfterFailures,
      ejectAfterFailedPolls: ep.ejectAfterFailedPolls,
      readmitAfterPolls: ep.readmitAfterPolls,
      resolver: ep.dnsRefreshMs > 0 ? (settings.resolver ?? systemResolver) : undefined,
    });
    this.pool.on((e) => {
      // A name's address that stopped answering may have moved (a container restarted elsewhere):
      // look the names up now rather than at the next refresh, at most once a second.
      if (e.type === 'ejected' && this.dnsRefreshMs > 0 && performance.now() - this.lastEjectRefresh >= 1000) {
        this.lastEjectRefresh = performance.now();
        void this.pool.refresh();
      }
      if (e.type !== 'removed') return;
      // Sockets of an endpoint DNS no longer returns close once their requests are done.
      const d = this.dispatchers.get(e.endpoint);
      this.dispatchers.delete(e.endpoint);
      void d?.close().catch(() => undefined);
    });
    this.breaker = new CircuitBreaker({
      name,
      failureThreshold: b.failureThreshold,
      failureRateThreshold: b.failureRateThreshold,
      minimumCalls: b.minimumCalls,
      windowMs: b.windowMs,
      slowCallMs: b.slowCallMs,
      openMs: b.recoveryTimeoutMs,
      halfOpenMaxProbes: b.halfOpenMaxProbes,
      isFailure: (e) => this.isFault(e) && !(typeof e === 'object' && e !== null && this.spared.has(e)),
    });
    this.retry = new RetryPolicy({
      maxAttempts: settings.retry.maxAttempts,
      baseDelayMs: settings.retry.baseDelayMs,
      maxDelayMs: 500,
      shouldRetry: (e) => isRetryableUpstreamError(e),
      budget: new RetryBudget({ ratio: settings.retry.budgetRatio, minPerSecond: 5 }),
    });
  }

  /** Looks the names up now and then every UPSTREAM_DNS_REFRESH_MS (nothing to do without DNS). */
  start(): Promise<void> {
    if (this.dnsRefreshMs > 0 && !this.refresher) {
      this.refresher = setInterval(() => void this.pool.refresh(), this.dnsRefreshMs);
      this.refresher.unref();
    }
    return this.pool.refresh();
  }

  /** Hears every attempt's endpoint and outcome. */
  onAttempt(listener: (e: AttemptEvent) => void): void {
    this.attemptListeners.push(listener);
  }

  async call<T = unknown>(method: 'GET' | 'POST', path: string, body: unknown, opts: CallOptions): Promise<UpstreamResponse<T>> {
    const deadline = Deadline.after(opts.budgetMs);
    // Serialised before the pipeline: a body that cannot be written is the client's fault and must
    // never reach the breaker (a 10,000-deep array once opened it for every client).
    let payload: string | undefined;
    try {
      payload = body === undefined ? undefined : JSON.stringify(body);
    } catch {
      throw new ServiceError('MALFORMED_JSON', 'body cannot be serialised', { publicDetail: 'The body cannot be forwarded as JSON.' });
    }
    const tried = new Set<string>();
    // retry(breaker(endpoint attempt(timeout(send)))): the attempt sits inside the breaker so it can
    // tell the breaker whether a failure was the endpoint's or the model's.
    return this.retry.execute(
      (ctx) => this.breaker.execute((c) => this.attempt<T>(method, path, payload, opts, tried, c), ctx),
      { deadline },
    );
  }

  private async attempt<T>(method: 'GET' | 'POST', path: string, payload: string | undefined, opts: CallOptions, tried: Set<string>, ctx: CallContext): Promise<UpstreamResponse<T>> {
    const endpoint = this.pool.pick(tried);
    if (!endpoint) throw new UpstreamUnavailableError(this.name, 'NO_ENDPOINT', true);
    tried.add(endpoint.url);
    this.pool.acquire(endpoint);
    try {
      const res = await this.timeout.execute(({ signal, deadline }) => this.send<T>(endpoint, method, path, payload, opts, signal, deadline), ctx);
      this.finish(endpoint, 'success');
      return res;
    } catch (e) {
      const failed = this.isFault(e);
      this.finish(endpoint, failed ? 'failure' : 'neutral');
      if (failed && typeof e === 'object' && e !== null) {
        // Asked after the failure was recorded: it may just have ejected this endpoint.
        if (this.pool.hasAlternative(endpoint)) this.spared.add(e);
        if (e instanceof UpstreamUnavailableError && this.pool.hasAlternative(endpoint, tried)) {
          e.retryAfterMs = 0;
          e.retryElsewhere = !e.connectFailure && this.settings.retrySentRequests === true && BROKEN_BEFORE_ANSWER.has(e.causeCode ?? '');
        }
      }
      throw e;
    }
  }

  private finish(endpoint: Endpoint, outcome: AttemptOutcome) {
    this.pool.release(endpoint, outcome);
    for (const l of this.attemptListeners) l({ upstream: this.name, endpoint: endpoint.url, outcome });
  }

  private dispatcher(endpoint: Endpoint): Pool {
    let d = this.dispatchers.get(endpoint.url);
    if (!d) {
      const https = endpoint.url.startsWith('https:');
      d = new Pool(endpoint.url, {
        connections: this.settings.connections,
        keepAliveTimeout: 10_000,
        keepAliveMaxTimeout: 30_000,
        // An address found by DNS still presents the certificate of the configured name.
        ...(https ? { connect: { servername: new URL(`https://${endpoint.host}`).hostname } } : {}),
      });
      this.dispatchers.set(endpoint.url, d);
    }
    return d;
  }

  /** The Host header an endpoint needs: the configured one when the address came from DNS. */
  private hostHeader(endpoint: Endpoint): Record<string, string> {
    return endpoint.url.endsWith(`//${endpoint.host}`) ? {} : { host: endpoint.host };
  }

  private async send<T>(
    endpoint: Endpoint,
    method: 'GET' | 'POST',
    path: string,
    payload: string | undefined,
    opts: CallOptions,
    signal: AbortSignal,
    d: Deadline | undefined,
  ): Promise<UpstreamResponse<T>> {
    const remaining = Math.max(1, Math.floor((d ?? Deadline.after(opts.budgetMs)).remainingMs()));
    let res;
    try {
      res = await this.dispatcher(endpoint).request({
        method,
        path,
        body: payload,
        headers: {
          ...this.hostHeader(endpoint),
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          'x-request-id': opts.requestId,
          'x-request-timeout-ms': String(remaining),
        },
        signal,
      });
    } catch (e) {
      if (signal.aborted) throw signal.reason ?? e;
      const code = (e as { code?: string }).code;
      throw new UpstreamUnavailableError(this.name, code, CONNECT_FAILURES.has(code ?? ''));
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (e) {
      if (signal.aborted) throw signal.reason ?? e;
      // Part of the answer came: never sent again.
      throw new UpstreamUnavailableError(this.name, `${(e as { code?: string }).code ?? 'unknown'}_AFTER_ANSWER`, false);
    }
    const retryAfterHeader = res.headers['retry-after'];
    const retryAfter = typeof retryAfterHeader === 'string' ? retryAfterHeader : undefined;
    if (res.statusCode >= 500 && !isShed(res.statusCode, res.headers, text)) {
      const seconds = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
      throw new UpstreamHttpError(this.name, res.statusCode, seconds);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new UpstreamHttpError(this.name, 502, undefined);
    }
    const allowHeader = res.headers['allow'];
    const allow = typeof allowHeader === 'string' ? allowHeader : undefined;
    return { status: res.statusCode, body: parsed as T, retryAfter, allow };
  }

  /**
   * Polls every endpoint's readiness (outside the breaker) and tells the pool, which ejects and
   * re-admits endpoints by it. True when at least one endpoint is ready.
   */
  async pollEndpoints(path = '/health/ready', timeoutMs = 1000): Promise<boolean> {
    const results = await Promise.all(
      this.pool.endpoints().map(async (e) => {
        const { ok } = await this.probeEndpoint(e, path, timeoutMs);
        this.pool.reportPoll(e.url, ok);
        return ok;
      }),
    );
    return results.some(Boolean);
  }

  /** A probe outside the breaker, of one admitted endpoint: for monitoring only. */
  async probe(path: string, timeoutMs = 1000): Promise<{ ok: boolean; body?: unknown }> {
    const endpoint = this.pool.pick();
    return endpoint ? this.probeEndpoint(endpoint, path, timeoutMs) : { ok: false };
  }

  private async probeEndpoint(endpoint: Endpoint, path: string, timeoutMs: number): Promise<{ ok: boolean; body?: unknown }> {
    try {
      const res = await this.dispatcher(endpoint).request({ method: 'GET', path, headers: this.hostHeader(endpoint), signal: AbortSignal.timeout(timeoutMs) });
      const text = await res.body.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { ok: res.statusCode === 200, body };
    } catch {
      return { ok: false };
    }
  }

  async close() {
    if (this.refresher) clearInterval(this.refresher);
    await Promise.all([...this.dispatchers.values()].map((d) => d.close()));
    this.dispatchers.clear();
  }
}
