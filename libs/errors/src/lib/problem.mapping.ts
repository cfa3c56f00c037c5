/**
 * Stable error codes -> HTTP status and title. The only place where error codes meet HTTP.
 * Codes come from our libs (inference, resilience, cache, auth) and from Fastify itself.
 */
export const PROBLEM_MAP: Record<string, { status: number; title: string; slug: string }> = {
  VALIDATION_FAILED: { status: 422, title: 'Unprocessable Content', slug: 'validation-failed' },
  NOT_FOUND: { status: 404, title: 'Not Found', slug: 'not-found' },
  UNAUTHORIZED: { status: 401, title: 'Unauthorized', slug: 'unauthorized' },
  FORBIDDEN: { status: 403, title: 'Forbidden', slug: 'forbidden' },
  RATE_LIMITED: { status: 429, title: 'Too Many Requests', slug: 'rate-limited' },
  QUEUE_FULL: { status: 503, title: 'Service Unavailable', slug: 'overloaded' },
  OVERLOADED: { status: 503, title: 'Service Unavailable', slug: 'overloaded' },
  NOT_READY: { status: 503, title: 'Service Unavailable', slug: 'not-ready' },
  SHUTTING_DOWN: { status: 503, title: 'Service Unavailable', slug: 'shutting-down' },
  BREAKER_OPEN: { status: 503, title: 'Service Unavailable', slug: 'upstream-circuit-open' },
  UPSTREAM_UNAVAILABLE: { status: 503, title: 'Service Unavailable', slug: 'upstream-unavailable' },
  UPSTREAM_FAILED: { status: 502, title: 'Bad Gateway', slug: 'upstream-failed' },
  DEADLINE_EXCEEDED: { status: 504, title: 'Gateway Timeout', slug: 'deadline-exceeded' },
  // Fastify's own errors, raised before our handlers run.
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, title: 'Unsupported Media Type', slug: 'unsupported-media-type' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, title: 'Content Too Large', slug: 'body-too-large' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, title: 'Bad Request', slug: 'bad-request' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, title: 'Bad Request', slug: 'malformed-json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, title: 'Bad Request', slug: 'malformed-json' },
  MALFORMED_JSON: { status: 400, title: 'Bad Request', slug: 'malformed-json' },
  FORBIDDEN_KEY: { status: 400, title: 'Bad Request', slug: 'forbidden-key' },
  NESTING_TOO_DEEP: { status: 400, title: 'Bad Request', slug: 'nesting-too-deep' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method Not Allowed', slug: 'method-not-allowed' },
  // Refused by Node's HTTP parser or timers before a request exists (written raw by libs/server).
  REQUEST_TIMEOUT: { status: 408, title: 'Request Timeout', slug: 'request-timeout' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request Header Fields Too Large', slug: 'headers-too-large' },
  BAD_REQUEST: { status: 400, title: 'Bad Request', slug: 'bad-request' },
};

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export const titleFor = (status: number) => STATUS_TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');

export const PROBLEM_TYPE_BASE = 'urn:ml-services:problem:';
