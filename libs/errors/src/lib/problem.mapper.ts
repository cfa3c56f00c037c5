import { HttpException } from '@nestjs/common';
import { PROBLEM_MAP, PROBLEM_TYPE_BASE, titleFor } from './problem.mapping';
import type { FieldError, Problem } from './problem.types';

/** What the filter needs to write a response, plus whether the error deserves a stack trace in logs. */
export interface MappedProblem {
  problem: Problem;
  headers: Record<string, string>;
  /** True for 5xx we did not anticipate: logged as an error with its stack. */
  unexpected: boolean;
}

interface ErrorLike {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  retryAfterSeconds?: unknown;
  errors?: unknown;
  publicDetail?: unknown;
  allow?: unknown;
}

const slugFor = (status: number) => titleFor(status).toLowerCase().replace(/[^a-z]+/g, '-');

/** Maps any thrown value to a problem+json document. Never leaks a stack or an internal message on 5xx. */
export function toProblem(err: unknown, instance: string, requestId: string): MappedProblem {
  const headers: Record<string, string> = {};
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const known = code ? PROBLEM_MAP[code] : undefined;
  let status: number;
  let title: string;
  let slug: string;
  let detail: string;
  let errors: FieldError[] | undefined;
  let unexpected = false;

  if (known) {
    ({ status, title, slug } = known);
    detail = String(e.publicDetail ?? e.message ?? title);
    if (Array.isArray(e.errors)) errors = e.errors as FieldError[];
  } else if (err instanceof HttpException) {
    status = err.getStatus();
    title = titleFor(status);
    slug = slugFor(status);
    const body = err.getResponse();
    const msg = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : body;
    detail = status >= 500 ? title : Array.isArray(msg) ? msg.join('; ') : String(msg ?? title);
    unexpected = status >= 500;
  } else if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Fastify framework errors (parser, limits) carry a statusCode and a safe message.
    status = e.statusCode;
    title = titleFor(status);
    slug = slugFor(status);
    detail = String(e.message ?? title);
  } else {
    status = 500;
    title = titleFor(500);
    slug = 'internal-error';
    detail = 'An unexpected error occurred. Quote the request id when reporting it.';
    unexpected = true;
  }
  const retryAfter = typeof e.retryAfterSeconds === 'number' ? e.retryAfterSeconds : undefined;
  if (retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfter)));
  // Shed load, not a fault: a gateway in front passes it on instead of counting it against this service.
  if (slug === 'overloaded') headers['x-ml-shed'] = '1';
  if (status === 405 && Array.isArray(e.allow)) headers['allow'] = e.allow.join(', ');

  const problem: Problem = {
    type: PROBLEM_TYPE_BASE + slug,
    title,
    status,
    detail,
    instance,
    request_id: requestId,
  };
  if (errors) problem.errors = errors;
  return { problem, headers, unexpected };
}
