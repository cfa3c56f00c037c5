import { DynamicModule, Module } from '@nestjs/common';
import { CoreModule } from '@ml/server';
import type { GatewayConfig } from './gateway.config';

/** Composition root of the gateway: the one front door clients talk to. */
@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return {
      module: GatewayModule,
      imports: [CoreModule.forRoot({ service: 'gateway', config: config.service })],
    };
  }
}
