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
