/**
 * The RateLimit-Policy and RateLimit response fields of draft-ietf-httpapi-ratelimit-headers, as
 * structured-field lists with one item: the policy name as an sf-string with its parameters.
 */
export function policyHeader(name: string, quota: number, windowSeconds: number): string {
  return `${sfString(name)};q=${quota};w=${windowSeconds}`;
}

/** `remaining` units left and `resetSeconds` until the window ends (whole seconds, rounded up). */
export function rateLimitHeader(name: string, remaining: number, resetSeconds: number): string {
  return `${sfString(name)};r=${Math.max(0, Math.floor(remaining))};t=${Math.max(0, Math.ceil(resetSeconds))}`;
}

/** RFC 8941 sf-string: printable ASCII with `"` and `\` escaped. */
function sfString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new RangeError(`policy name must be printable ASCII, got ${JSON.stringify(value)}`);
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
