/** One field-level complaint in a validation problem. */
export interface FieldError {
  field: string;
  message: string;
}

/** RFC 9457 problem details, as every error leaves our services. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  request_id: string;
  errors?: FieldError[];
}

/**
 * The shape an error needs for the filter to map it without knowing its class: libs that must not
 * depend on this one (resilience, inference) throw errors with a stable `code` and these optional
 * fields, and the mapping table below turns the code into a status.
 */
export interface CodedError {
  code: string;
  message: string;
  retryAfterSeconds?: number;
  errors?: FieldError[];
  /** The methods the path does have, for a 405's `Allow` header. */
  allow?: string[];
  /** What may be shown to the client; `message` is for logs. */
  publicDetail?: string;
}
