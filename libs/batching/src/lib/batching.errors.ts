/** The batching queue is full: shed load instead of queueing without bound (503 + Retry-After). */
export class QueueFullError extends Error {
  readonly code = 'QUEUE_FULL';
  readonly retryAfterSeconds = 1;
  readonly publicDetail = 'The model is at capacity; retry shortly.';
  constructor(readonly model: string, readonly queued: number) {
    super(`${model}: queue full (${queued} waiting)`);
    this.name = 'QueueFullError';
  }
}
export const isQueueFullError = (e: unknown): e is QueueFullError => e instanceof QueueFullError;

/** The request's deadline passed before its inference ran (504). */
export class DeadlineExceededError extends Error {
  readonly code = 'DEADLINE_EXCEEDED';
  readonly publicDetail = 'The request deadline passed before the prediction could be made.';
  constructor(readonly model: string, readonly waitedMs: number) {
    super(`${model}: deadline passed after ${waitedMs.toFixed(1)} ms in the queue`);
    this.name = 'DeadlineExceededError';
  }
}
export const isDeadlineExceededError = (e: unknown): e is DeadlineExceededError => e instanceof DeadlineExceededError;

