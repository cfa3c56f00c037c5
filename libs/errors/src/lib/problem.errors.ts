import type { FieldError } from './problem.types';

/** Base for errors raised by our own code that carry a stable code. */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extra: { retryAfterSeconds?: number; errors?: FieldError[]; publicDetail?: string; allow?: string[] } = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
  get retryAfterSeconds() {
    return this.extra.retryAfterSeconds;
  }
  get errors() {
    return this.extra.errors;
  }
  get allow() {
    return this.extra.allow;
  }
  get publicDetail() {
    return this.extra.publicDetail ?? this.message;
  }
}

/** Well-formed input that breaks the schema or a rule (422). */
export class ValidationFailedError extends ServiceError {
  constructor(errors: FieldError[], detail = 'The request body is not valid.') {
    super('VALIDATION_FAILED', detail, { errors });
  }
}
export const isValidationFailedError = (e: unknown): e is ValidationFailedError =>
  e instanceof ValidationFailedError;

/** An unknown model or model version (404). */
export class NotFoundError extends ServiceError {
  constructor(detail: string) {
    super('NOT_FOUND', detail);
  }
}

/** A path that exists, asked with a method it does not have (405, with `Allow`). */
export class MethodNotAllowedError extends ServiceError {
  constructor(method: string, path: string, allow: string[]) {
    super('METHOD_NOT_ALLOWED', `${path} does not answer ${method}; it answers ${allow.join(', ')}.`, { allow });
  }
}
