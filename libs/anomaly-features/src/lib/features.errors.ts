/** A transaction or profile the feature code cannot work with (the service validates first). */
export class FeatureInputError extends Error {
  readonly code = 'INVALID_FEATURE_INPUT';

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'FeatureInputError';
  }
}

export function isFeatureInputError(e: unknown): e is FeatureInputError {
  return e instanceof FeatureInputError;
}

/** A model file (trees.json) that does not have the expected shape. */
export class ModelFormatError extends Error {
  readonly code = 'INVALID_MODEL_FORMAT';

  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
}

export function isModelFormatError(e: unknown): e is ModelFormatError {
  return e instanceof ModelFormatError;
}
