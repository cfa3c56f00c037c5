export { IntentModule } from './lib/intent.module';
export { IntentService, type IntentOptions } from './lib/intent.service';
export { IntentClassifier, UNKNOWN_INTENT, argmax, topK, type PredictionEvent } from './lib/intent.classifier';
export { INTENT_INFERENCE_DEFAULTS, INTENT_MODEL_NAME } from './lib/intent.constants';
