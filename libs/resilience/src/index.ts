export { CircuitBreaker } from './lib/circuit-breaker';
export type {
  CircuitBreakerOptions,
  CircuitState,
  FailureEvent,
  RejectedEvent,
  StateChangeEvent,
  SuccessEvent,
} from './lib/circuit-breaker';
export { Deadline } from './lib/deadline';
export {
  BrokenCircuitError,
  TimeoutError,
  isBrokenCircuitError,
  isTimeoutError,
  type RejectingState,
  type TimeoutKind,
} from './lib/resilience.errors';
export { systemClock } from './lib/resilience.clock';
export type { CallContext, Clock, Listener, Operation, Policy, Unsubscribe } from './lib/resilience.types';
export { wrap } from './lib/resilience.wrap';
export { RetryBudget, type RetryBudgetOptions } from './lib/retry-budget';
export { RetryPolicy, type BudgetExhaustedEvent, type RetryEvent, type RetryOptions } from './lib/retry-policy';
export { TimeoutPolicy, type TimeoutOptions } from './lib/timeout-policy';
