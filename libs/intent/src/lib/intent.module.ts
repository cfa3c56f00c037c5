import { DynamicModule, Module } from '@nestjs/common';
import { OIP_SERVER_INFO, OipController, PROTOCOL_MODELS, modelAdmission, resolveModel } from '@ml/inference';
import { INTENT_FILES, INTENT_MODEL_NAME, INTENT_OPTIONS } from './intent.constants';
import { IntentRoutes } from './intent.routes';
import { IntentProtocolModel } from './intent.protocol';
import { IntentService, type IntentOptions } from './intent.service';

/**
 * The intent classifier as a Nest module: `/predict/intent[/batch]` and the Open Inference
 * Protocol. The model files are resolved and verified while the app is created, so a missing or
 * tampered model stops the boot with a message naming the path.
 */
@Module({})
export class IntentModule {
  static forRoot(options: IntentOptions): DynamicModule {
    return {
      module: IntentModule,
      imports: [modelAdmission(INTENT_MODEL_NAME, options.inference.admission, options.requestTimeoutMs)],
      controllers: [OipController],
      providers: [
        { provide: INTENT_OPTIONS, useValue: options },
        {
          provide: INTENT_FILES,
          useFactory: () => resolveModel(options.inference.modelDir, INTENT_MODEL_NAME, options.inference.pinnedVersion),
        },
        IntentService,
        IntentRoutes,
        {
          provide: PROTOCOL_MODELS,
          useFactory: (service: IntentService) => [new IntentProtocolModel(service)],
          inject: [IntentService],
        },
        {
          provide: OIP_SERVER_INFO,
          useValue: { name: 'ml-services intent-classifier', version: '1.0.0', requestTimeoutMs: options.requestTimeoutMs },
        },
      ],
      exports: [IntentService],
    };
  }
}
