export { BatchScheduler, type BatchEvent, type BatchSchedulerOptions, type RejectEvent } from './lib/batch.scheduler';
export { DeadlineExceededError, QueueFullError, isDeadlineExceededError, isQueueFullError } from './lib/batching.errors';
