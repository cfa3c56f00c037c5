/** No key, or an unknown one (401). The message never contains the presented secret. */
export class UnauthorizedError extends Error {
  readonly code = 'UNAUTHORIZED';
  constructor(readonly publicDetail: string) {
    super(publicDetail);
    this.name = 'UnauthorizedError';
  }
}
/** A valid key without the scope for this model (403). */
export class ForbiddenError extends Error {
  readonly code = 'FORBIDDEN';
  constructor(readonly publicDetail: string) {
    super(publicDetail);
    this.name = 'ForbiddenError';
  }
}
