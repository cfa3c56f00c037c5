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
