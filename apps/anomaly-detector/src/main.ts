import { ANOMALY_INFERENCE_DEFAULTS, ANOMALY_MODEL_NAME, loadAnomalyConfig } from '@ml/anomaly';
import { loadOrExit, loadServiceConfig } from '@ml/config';
import { loadInferenceConfig } from '@ml/inference';
import { createRedisClient, hasRedis, loadRedisConfig } from '@ml/redis';
import { runService } from '@ml/server';
import { AnomalyDetectorModule } from './anomaly-detector.module';

const config = loadOrExit(() => ({
  service: loadServiceConfig(3002),
  inference: loadInferenceConfig(ANOMALY_MODEL_NAME, process.env, ANOMALY_INFERENCE_DEFAULTS),
  anomaly: loadAnomalyConfig(),
  redis: loadRedisConfig(),
}));
// With Redis (REDIS_URL, REDIS_HOST, REDIS_SENTINELS or REDIS_CLUSTER_NODES) customer history is shared by
// every replica; without, it lives in memory.
const redis = hasRedis(config.redis) ? createRedisClient(config.redis, 'anomaly-detector') : undefined;
void runService({
  name: 'anomaly-detector',
  module: AnomalyDetectorModule.forRoot(config, redis),
  config: config.service,
  isBatchRoute: (path) => path.endsWith('/batch') || path.endsWith('/infer'),
});
