import type { Logger } from '@nestjs/common';

export type PredictionOutcome = 'success' | 'error' | 'rejected' | 'timeout';

/** How a failed prediction is counted in `ml_prediction_total{status}`. */
export function outcomeOf(error: unknown): Exclude<PredictionOutcome, 'success'> {
  const code = (error as { code?: string } | undefined)?.code;
  if (code === 'QUEUE_FULL' || code === 'NOT_READY') return 'rejected';
  if (code === 'DEADLINE_EXCEEDED') return 'timeout';
  return 'error';
}

/**
 * Starts loading a model after the server listens (readiness stays closed until it is done). A load
 * that fails is logged and handed to `onFailure`, which by default ends the process: a model app
 * without its model must not linger half-alive.
 */
export function loadInBackground(
  what: string,
  load: () => Promise<void>,
  logger: Pick<Logger, 'error'>,
  onFailure: (err: Error) => void = () => process.exit(1),
): Promise<void> {
  return load().catch((err: Error) => {
    logger.error({ msg: `model ${what} failed to load: ${err.message}` });
    onFailure(err);
  });
}
