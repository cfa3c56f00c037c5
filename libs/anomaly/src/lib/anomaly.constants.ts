export const ANOMALY_MODEL_NAME = 'anomaly-detector';
export const ANOMALY_FILES = Symbol('ANOMALY_FILES');
export const ANOMALY_OPTIONS = Symbol('ANOMALY_OPTIONS');
/** Injection token of the ProfileStore the detector reads and folds customer history into. */
export const PROFILE_STORE = Symbol('PROFILE_STORE');
