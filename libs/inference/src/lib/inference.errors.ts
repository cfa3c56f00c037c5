/** The model is not loaded or warmed yet, or the service is draining (503). */
export class ModelNotReadyError extends Error {
  readonly code = 'NOT_READY';
  readonly retryAfterSeconds = 1;
  readonly publicDetail = 'The model is not ready yet.';
  constructor(readonly model: string) {
    super(`${model}: not ready`);
    this.name = 'ModelNotReadyError';
  }
}

/**
 * An inference worker thread exited with runs in flight (or none was running to take a run): those
 * runs fail with a retryable 503 while a replacement worker loads the model.
 */
export class InferenceWorkerExitedError extends Error {
  readonly code = 'NOT_READY';
  readonly retryAfterSeconds = 1;
  readonly publicDetail = 'The model is restarting; retry shortly.';
  constructor(
    readonly modelPath: string,
    readonly exitCode: number | undefined,
  ) {
    super(`${modelPath}: inference worker ${exitCode === undefined ? 'unavailable' : `exited with code ${exitCode}`}`);
    this.name = 'InferenceWorkerExitedError';
  }
}

/** A model directory, manifest or file that cannot be served. Stops the process at boot. */
export class ModelLoadError extends Error {
  readonly code = 'MODEL_LOAD_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'ModelLoadError';
  }
}
export const isModelLoadError = (e: unknown): e is ModelLoadError => e instanceof ModelLoadError;

/** An unknown model or version was asked for (404). */
export class UnknownModelError extends Error {
  readonly code = 'NOT_FOUND';
  constructor(readonly model: string, readonly version?: string) {
    super(version ? `Model "${model}" has no version "${version}" being served.` : `No model named "${model}" is served here.`);
    this.name = 'UnknownModelError';
  }
  get publicDetail() {
    return this.message;
  }
}
