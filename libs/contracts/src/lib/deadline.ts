/** The header a client (or the gateway) uses to ask for a shorter deadline, in milliseconds. */
export const REQUEST_TIMEOUT_HEADER = 'x-request-timeout-ms';

/**
 * The time budget of a request: the client's `X-Request-Timeout-Ms` when it is a positive integer
 * no larger than the server's default, else the default. A client can ask for less, never more.
 */
export function requestBudgetMs(header: string | string[] | undefined, defaultMs: number): number {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || !/^\d{1,9}$/.test(raw.trim())) return defaultMs;
  const asked = Number(raw.trim());
  return asked > 0 ? Math.min(asked, defaultMs) : defaultMs;
}

/** When each request reached the server (performance.now()), keyed by its raw Node message. */
const arrivals = new WeakMap<object, number>();

/**
 * Stamps the moment the server first saw a request, on its raw `IncomingMessage`. The server
 * calls it as the very first listener of the HTTP server's `request` (and `checkContinue`)
 * event, before Fastify and Nest spend anything on it; the first stamp wins.
 */
export function markReceived(raw: object, at = performance.now()): void {
  if (!arrivals.has(raw)) arrivals.set(raw, at);
}

/** When the server first saw the request (performance.now() time), or undefined if unstamped. */
export function receivedAt(raw: object): number | undefined {
  return arrivals.get(raw);
}

/** Milliseconds since the request arrived, or undefined if it was never stamped. */
export function elapsedSinceReceivedMs(raw: object): number | undefined {
  const at = arrivals.get(raw);
  return at === undefined ? undefined : performance.now() - at;
}

/**
 * What is left of a request's budget ({@link requestBudgetMs}) once the time since it arrived is
 * spent: parsing, queueing behind other requests on the event loop and validation all count.
 * Never below 0; callers treat 0 as "the deadline has passed". An unstamped request (built in a
 * test, say) has its whole budget.
 */
export function remainingBudgetMs(raw: object, header: string | string[] | undefined, defaultMs: number): number {
  const spent = elapsedSinceReceivedMs(raw) ?? 0;
  return Math.max(0, requestBudgetMs(header, defaultMs) - spent);
}
