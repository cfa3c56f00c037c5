export { MethodNotAllowedError, NotFoundError, ServiceError, ValidationFailedError, isValidationFailedError } from './lib/problem.errors';
export { LogThrottle, type LogThrottleOptions } from './lib/log-throttle';
export { PROBLEM_LOG_INTERVAL_MS, ProblemFilter, ProblemLog, sendProblem } from './lib/problem.filter';
export { toProblem, type MappedProblem } from './lib/problem.mapper';
export { isInferenceProtocolPath, renderProblem, type RenderedProblem } from './lib/problem.render';
export { PROBLEM_MAP, PROBLEM_TYPE_BASE } from './lib/problem.mapping';
export type { CodedError, FieldError, Problem } from './lib/problem.types';
