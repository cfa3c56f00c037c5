export const INTENT_FILES = Symbol('INTENT_FILES');
export const INTENT_OPTIONS = Symbol('INTENT_OPTIONS');
export const INTENT_MODEL_NAME = 'intent-classifier';
