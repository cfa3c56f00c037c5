import { toProblem, type MappedProblem } from './problem.mapper';

/** Paths that speak the Open Inference Protocol answer errors as `{"error": "..."}`. */
export const isInferenceProtocolPath = (url: string) => url === '/v2' || url.startsWith('/v2/') || url.startsWith('/v2?');

export interface RenderedProblem extends MappedProblem {
  contentType: string;
  /** The response body: the problem document, or `{"error"}` on protocol paths. */
  body: string;
}

/**
 * An error as the contract answers it on `url`: problem+json (RFC 9457), or the Open Inference
 * Protocol's `{"error"}` (field errors appended to the detail) on `/v2` paths. The one place that
 * shape is decided, for the exception filter, the answers written below Fastify and shed load.
 */
export function renderProblem(err: unknown, url: string, requestId: string, instance = url.split('?')[0]): RenderedProblem {
  const mapped = toProblem(err, instance, requestId);
  const { problem } = mapped;
  if (isInferenceProtocolPath(url)) {
    const detail = problem.errors?.length ? `${problem.detail} ${problem.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}` : problem.detail;
    return { ...mapped, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ error: detail }) };
  }
  return { ...mapped, contentType: 'application/problem+json; charset=utf-8', body: JSON.stringify(problem) };
}
