import {
  CircuitBreaker,
  Deadline,
  isTimeoutError,
  RetryBudget,
  RetryPolicy,
  TimeoutPolicy,
  wrap,
  type Policy,
} from '@ml/resilience';
import { SHED_HEADER } from '@ml/admission';
import { ServiceError } from '@ml/errors';
import type { RedisBudget } from '@ml/redis';
import { Pool } from 'undici';
import type { BreakerSettings } from './gateway.config';
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

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET_BEFORE_SEND']);

/**
 * One model service behind a keep-alive pool and the resilience pipeline: retry (connect failures
 * and 503 with Retry-After only, within a budget and the deadline) around a breaker around a
 * per-try timeout that aborts the socket. Upstream 4xx answers are returned, not thrown: they are
 * the client's fault and do not count against the upstream. So is a 503 the model app answered by
 * shedding load (see @ml/admission): passed to the client with its Retry-After, never retried on
 * the same endpoint and never counted against the breaker, or overload would turn into an outage.
 */
export class UpstreamClient {
  readonly breaker: CircuitBreaker;
  readonly retry: RetryPolicy;
  private readonly pool: Pool;
  private readonly policy: Policy;

  constructor(
    readonly name: string,
    readonly baseUrl: string,
    settings: {
      breaker: BreakerSettings;
      retry: { maxAttempts: number; baseDelayMs: number; budgetRatio: number };
      connections: number;
      /** Timeouts of attempts given less than this are the client's short budget, not a fault. Default: the slow-call time. */
      timeoutCountsFromMs?: number;
    },
  ) {
    this.pool = new Pool(baseUrl, { connections: settings.connections, keepAliveTimeout: 10_000, keepAliveMaxTimeout: 30_000 });
    const b = settings.breaker;
    this.breaker = new CircuitBreaker({
      name,
      failureThreshold: b.failureThreshold,
      failureRateThreshold: b.failureRateThreshold,
      minimumCalls: b.minimumCalls,
      windowMs: b.windowMs,
      slowCallMs: b.slowCallMs,
      openMs: b.recoveryTimeoutMs,
      halfOpenMaxProbes: b.halfOpenMaxProbes,
      isFailure: (e) => isUpstreamFault(e, settings.timeoutCountsFromMs ?? b.slowCallMs),
    });
    this.retry = new RetryPolicy({
      maxAttempts: settings.retry.maxAttempts,
      baseDelayMs: settings.retry.baseDelayMs,
      maxDelayMs: 500,
      shouldRetry: (e) => isRetryableUpstreamError(e),
      budget: new RetryBudget({ ratio: settings.retry.budgetRatio, minPerSecond: 5 }),
    });
    this.policy = wrap(this.retry, this.breaker, new TimeoutPolicy({}));
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
    return this.policy.execute(async ({ signal, deadline: d }) => {
      const remaining = Math.max(1, Math.floor((d ?? deadline).remainingMs()));
      let res;
      try {
        res = await this.pool.request({
          method,
          path,
          body: payload,
          headers: {
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
        throw new UpstreamUnavailableError(this.name, (e as { code?: string }).code, false);
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
    }, { deadline });
  }

  /** A probe outside the breaker: readiness of the upstream itself, for monitoring only. */
  async probe(path: string, timeoutMs = 1000): Promise<{ ok: boolean; body?: unknown }> {
    try {
      const res = await this.pool.request({ method: 'GET', path, signal: AbortSignal.timeout(timeoutMs) });
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

  close() {
    return this.pool.close();
  }
}
