export const INTENT_FILES = Symbol('INTENT_FILES');
export const INTENT_OPTIONS = Symbol('INTENT_OPTIONS');
export const INTENT_MODEL_NAME = 'intent-classifier';
/**
 * The classifier's inference defaults (the INFERENCE_* variables still override them): runs of at
 * most 16 texts, because the session's arena grows with the largest run (measured: ~7 MB less
 * after load than with 32, for ~10% fewer predictions/s per full run; at c=32 runs average 16
 * texts anyway, and a batch request keeps the worker busy through the queued next run).
 */
export const INTENT_INFERENCE_DEFAULTS = { maxBatchSize: 16 } as const;
