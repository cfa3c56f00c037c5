import { DynamicModule, Module } from '@nestjs/common';
import type { ServiceConfig } from '@ml/config';
import { CoreModule } from '@ml/server';

/** Composition root of the intent-classifier model service. */
@Module({})
export class IntentClassifierModule {
  static forRoot(config: ServiceConfig): DynamicModule {
    return {
      module: IntentClassifierModule,
      imports: [CoreModule.forRoot({ service: 'intent-classifier', config })],
    };
  }
}
