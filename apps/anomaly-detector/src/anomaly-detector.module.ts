import { DynamicModule, Module } from '@nestjs/common';
import { AnomalyModule, type AnomalyConfig } from '@ml/anomaly';
import type { ServiceConfig } from '@ml/config';
import type { InferenceConfig } from '@ml/inference';
import type { RedisClient } from '@ml/redis';
import { CoreModule } from '@ml/server';

export interface AnomalyDetectorConfig {
  service: ServiceConfig;
  inference: InferenceConfig;
  anomaly: AnomalyConfig;
}

/** Composition root of the anomaly detector model service. */
@Module({})
export class AnomalyDetectorModule {
  static forRoot(config: AnomalyDetectorConfig, redis?: RedisClient): DynamicModule {
    return {
      module: AnomalyDetectorModule,
      imports: [
        CoreModule.forRoot({ service: 'anomaly-detector', config: config.service }),
        AnomalyModule.forRoot({
          inference: config.inference,
          requestTimeoutMs: config.service.requestTimeoutMs,
          anomaly: config.anomaly,
          redis,
        }),
      ],
    };
  }
}
