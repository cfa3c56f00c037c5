/** The upstream could not be reached (refused, reset, connect timeout): 503, safe to retry. */
export class UpstreamUnavailableError extends Error {
  readonly code = 'UPSTREAM_UNAVAILABLE';
  readonly retryAfterSeconds = 1;
  /** Set when another endpoint can take the retry: go there at once instead of after Retry-After. */
  retryAfterMs?: number;
  /**
   * The request may have reached the endpoint (its connection broke before any answer) and the
   * model has no side effects, so it may be sent again to another endpoint.
   */
  retryElsewhere = false;
  constructor(readonly upstream: string, readonly causeCode: string | undefined, readonly connectFailure: boolean) {
    super(`${upstream}: unreachable (${causeCode ?? 'unknown'})`);
    this.name = 'UpstreamUnavailableError';
  }
  get publicDetail() {
    return `The ${this.upstream} service is unavailable; retry shortly.`;
  }
}

/** The upstream answered 5xx. 503 keeps its Retry-After; anything else becomes 502. */
export class UpstreamHttpError extends Error {
  readonly code: string;
  constructor(
    readonly upstream: string,
    readonly status: number,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(`${upstream}: answered ${status}`);
    this.name = 'UpstreamHttpError';
    this.code = status === 503 ? 'UPSTREAM_UNAVAILABLE' : status === 504 ? 'DEADLINE_EXCEEDED' : 'UPSTREAM_FAILED';
  }
  get publicDetail() {
    return this.status === 503
      ? `The ${this.upstream} service is overloaded or starting; retry shortly.`
      : this.status === 504
        ? `The ${this.upstream} service did not answer within the deadline.`
        : `The ${this.upstream} service failed to answer.`;
  }
}

export const isRetryableUpstreamError = (e: unknown): boolean =>
  (e instanceof UpstreamUnavailableError && (e.connectFailure || e.retryElsewhere)) ||
  (e instanceof UpstreamHttpError && e.status === 503 && e.retryAfterSeconds !== undefined);
