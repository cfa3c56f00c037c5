import { loadOrExit, loadServiceConfig } from '@ml/config';
import { loadInferenceConfig } from '@ml/inference';
import { INTENT_MODEL_NAME } from '@ml/intent';
import { runService } from '@ml/server';
import { IntentClassifierModule } from './intent-classifier.module';

const config = loadOrExit(() => ({
  service: loadServiceConfig(3001),
  // Runs of at most 16 texts: the session's arena grows with the largest run (measured: ~7 MB less
  // after load than with 32, for ~10% fewer predictions/s per full run; at c=32 runs average 16
  // texts anyway, and a batch request keeps the worker busy through the queued next run).
  inference: loadInferenceConfig(INTENT_MODEL_NAME, process.env, { maxBatchSize: 16 }),
}));
void runService({
  name: 'intent-classifier',
  module: IntentClassifierModule.forRoot(config),
  config: config.service,
  isBatchRoute: (path) => path.endsWith('/batch') || path.endsWith('/infer'),
});
