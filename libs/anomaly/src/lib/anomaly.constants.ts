export const ANOMALY_MODEL_NAME = 'anomaly-detector';
/**
 * The detector's inference defaults (the INFERENCE_* variables still override them). Trees score
 * 256 rows about as cheaply per row as 32, so a whole batch request goes in one run; their runs are
 * too small to split over intra-op threads, and two single-threaded sessions are what the anomaly
 * benchmark measured (the session is ~2 MB, so memory does not argue for one).
 */
export const ANOMALY_INFERENCE_DEFAULTS = { maxBatchSize: 256, workers: 2, intraOpThreads: 1 } as const;
export const ANOMALY_FILES = Symbol('ANOMALY_FILES');
export const ANOMALY_OPTIONS = Symbol('ANOMALY_OPTIONS');
/** Injection token of the ProfileStore the detector reads and folds customer history into. */
export const PROFILE_STORE = Symbol('PROFILE_STORE');
