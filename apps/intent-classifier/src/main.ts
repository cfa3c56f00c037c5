import { loadOrExit, loadServiceConfig } from '@ml/config';
import { loadInferenceConfig } from '@ml/inference';
import { INTENT_INFERENCE_DEFAULTS, INTENT_MODEL_NAME } from '@ml/intent';
import { runService } from '@ml/server';
import { IntentClassifierModule } from './intent-classifier.module';

const config = loadOrExit(() => ({
  service: loadServiceConfig(3001),
  inference: loadInferenceConfig(INTENT_MODEL_NAME, process.env, INTENT_INFERENCE_DEFAULTS),
}));
void runService({
  name: 'intent-classifier',
  module: IntentClassifierModule.forRoot(config),
  config: config.service,
  isBatchRoute: (path) => path.endsWith('/batch') || path.endsWith('/infer'),
});
