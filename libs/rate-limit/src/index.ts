export { loadRateLimitConfig, type RateLimitConfig } from './lib/rate-limit.config';
export { RateLimitModule, type RateLimitModuleOptions } from './lib/rate-limit.module';
export { RateLimitService, type ConsumeOutcome, type RateLimitOptions } from './lib/rate-limit.service';
export { RateLimitGuard, trackerOf } from './lib/rate-limit.guard';
export { RateLimitCost, SkipRateLimit, batchCost, declaredCost, type CostRequest, type RateLimitCostFn } from './lib/rate-limit.decorators';
export { RateLimitConfigError, RateLimitedError, isRateLimitConfigError, isRateLimitedError } from './lib/rate-limit.errors';
export type { MemoryCounterStoreOptions } from './lib/memory.counter-store';
export type { Clock, ConsumeResult, DegradedListener, RejectionEvent, RejectionListener, Tracker, Unsubscribe } from './lib/rate-limit.types';
