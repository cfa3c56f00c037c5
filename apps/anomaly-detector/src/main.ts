import { ANOMALY_MODEL_NAME, loadAnomalyConfig } from '@ml/anomaly';
import { loadOrExit, loadServiceConfig } from '@ml/config';
import { loadInferenceConfig } from '@ml/inference';
import { createRedisClient, loadRedisConfig } from '@ml/redis';
import { runService } from '@ml/server';
import { AnomalyDetectorModule } from './anomaly-detector.module';

const config = loadOrExit(() => ({
  service: loadServiceConfig(3002),
  // Trees score 256 rows about as cheaply per row as 32: a whole batch request goes in one run.
  // Their runs are too small to split over intra-op threads; two single-threaded sessions are
  // what the anomaly benchmark measured (the session is ~2 MB, so memory does not argue for one).
  inference: loadInferenceConfig(ANOMALY_MODEL_NAME, process.env, { maxBatchSize: 256, workers: 2, intraOpThreads: 1 }),
  anomaly: loadAnomalyConfig(),
  redis: loadRedisConfig(),
}));
// With REDIS_URL (or REDIS_HOST) customer history is shared by every replica; without, it lives in memory.
const redis = config.redis.url ? createRedisClient({ ...config.redis, url: config.redis.url }, 'anomaly-detector') : undefined;
void runService({
  name: 'anomaly-detector',
  module: AnomalyDetectorModule.forRoot(config, redis),
  config: config.service,
  isBatchRoute: (path) => path.endsWith('/batch') || path.endsWith('/infer'),
});
