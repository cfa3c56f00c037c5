import { DynamicModule, Module } from '@nestjs/common';
import type { ServiceConfig } from '@ml/config';
import { CoreModule } from '@ml/server';

/** Composition root of the anomaly-detector model service. */
@Module({})
export class AnomalyDetectorModule {
  static forRoot(config: ServiceConfig): DynamicModule {
    return {
      module: AnomalyDetectorModule,
      imports: [CoreModule.forRoot({ service: 'anomaly-detector', config })],
    };
  }
}
