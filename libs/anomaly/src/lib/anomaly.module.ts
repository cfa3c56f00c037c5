import { FEATURES_V1, type FeatureSet, type UserProfile } from '@ml/anomaly-features';
import { DynamicModule, Module } from '@nestjs/common';
import { OIP_SERVER_INFO, OipController, PROTOCOL_MODELS, modelAdmission } from '@ml/inference';
import { METRICS_REGISTRY, type Registry } from '@ml/metrics';
import { CircuitBreaker } from '@ml/resilience';
import { ANOMALY_FILES, ANOMALY_OPTIONS, PROFILE_STORE } from './anomaly.constants';
import { AnomalyRoutes } from './anomaly.routes';
import { AnomalyMetrics } from './anomaly.metrics';
import { resolveAnomalyModel, type AnomalyModelFiles } from './anomaly.model';
import { AnomalyProtocolModel } from './anomaly.protocol';
import { AnomalyService, type AnomalyOptions } from './anomaly.service';
import { MemoryProfileStore } from './memory.profile-store';
import type { ProfileStore } from './profile.store';
import { RedisProfileStore } from './redis.profile-store';

/**
 * The store the options ask for: the given one, Redis when a client is given, else memory.
 * Redis keys carry the profile version of the model's feature set (`<prefix>v2:<user>`): each
 * model version reads and writes only profiles it understands, so a rollback to 1.0.0 finds its
 * own histories, and 2.0.0 builds its histories from new traffic while 1.0.0's expire.
 */
export function createProfileStore(options: AnomalyOptions, metrics?: AnomalyMetrics, features: FeatureSet = FEATURES_V1): ProfileStore {
  if (options.profileStore) return options.profileStore;
  const { anomaly } = options;
  if (!options.redis) return new MemoryProfileStore({ max: anomaly.profileMax, ttlMs: anomaly.profileTtlMs });
  const breaker = new CircuitBreaker({
    name: 'redis-profiles',
    failureThreshold: anomaly.breaker.failureThreshold,
    openMs: anomaly.breaker.recoveryMs,
    windowMs: 10_000,
  });
  metrics?.watchBreaker(breaker);
  return new RedisProfileStore({
    client: options.redis,
    keyPrefix: `${anomaly.keyPrefix}v${features.profileVersion}:`,
    isProfile: (value: unknown): value is UserProfile => features.isProfile(value),
    ttlMs: anomaly.profileTtlMs,
    breaker,
    casRetries: anomaly.casRetries,
    encoding: anomaly.profileEncoding,
    probeIntervalMs: Math.min(500, anomaly.breaker.recoveryMs),
  });
}

/**
 * The anomaly detector as a Nest module: `/predict/anomaly[/batch]` and the Open Inference
 * Protocol. The model files are resolved and verified while the app is created, so a missing,
 * tampered or mismatched model stops the boot with a message naming the path.
 */
@Module({})
export class AnomalyModule {
  static forRoot(options: AnomalyOptions): DynamicModule {
    return {
      module: AnomalyModule,
      imports: [modelAdmission('anomaly-detector', options.inference.admission, options.requestTimeoutMs)],
      controllers: [OipController],
      providers: [
        { provide: ANOMALY_OPTIONS, useValue: options },
        {
          provide: ANOMALY_FILES,
          useFactory: () => resolveAnomalyModel(options.inference.modelDir, options.inference.pinnedVersion, options.anomaly.alertRate),
        },
        { provide: AnomalyMetrics, useFactory: (registry: Registry) => new AnomalyMetrics(registry), inject: [METRICS_REGISTRY] },
        {
          provide: PROFILE_STORE,
          useFactory: (metrics: AnomalyMetrics, files: AnomalyModelFiles) => createProfileStore(options, metrics, files.features),
          inject: [AnomalyMetrics, ANOMALY_FILES],
        },
        AnomalyService,
        AnomalyRoutes,
        {
          provide: PROTOCOL_MODELS,
          useFactory: (service: AnomalyService) => [new AnomalyProtocolModel(service)],
          inject: [AnomalyService],
        },
        {
          provide: OIP_SERVER_INFO,
          useValue: { name: 'ml-services anomaly-detector', version: '1.0.0', requestTimeoutMs: options.requestTimeoutMs },
        },
      ],
      exports: [AnomalyService, PROFILE_STORE],
    };
  }
}
