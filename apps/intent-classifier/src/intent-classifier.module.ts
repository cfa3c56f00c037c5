import { DynamicModule, Module } from '@nestjs/common';
import type { ServiceConfig } from '@ml/config';
import type { InferenceConfig } from '@ml/inference';
import { IntentModule } from '@ml/intent';
import { CoreModule } from '@ml/server';

export interface IntentClassifierConfig {
  service: ServiceConfig;
  inference: InferenceConfig;
}

/** Composition root of the intent classifier model service. */
@Module({})
export class IntentClassifierModule {
  static forRoot(config: IntentClassifierConfig): DynamicModule {
    return {
      module: IntentClassifierModule,
      imports: [
        CoreModule.forRoot({ service: 'intent-classifier', config: config.service }),
        IntentModule.forRoot({ inference: config.inference, requestTimeoutMs: config.service.requestTimeoutMs }),
      ],
    };
  }
}
