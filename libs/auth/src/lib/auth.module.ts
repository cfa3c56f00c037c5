import { DynamicModule, Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { AuthConfig } from './auth.config';
import { AUTH_CONFIG } from './auth.constants';
import { ApiKeyGuard } from './auth.guard';

/** API-key authentication as a global guard. Import it before the rate limiter so limits see the key. */
@Module({})
export class AuthModule {
  static forRoot(config: AuthConfig): DynamicModule {
    if (config.devKey) {
      new Logger('Auth').warn('ML_API_KEYS is not set: accepting the development key only (see README). Never do this in production.');
    }
    return {
      module: AuthModule,
      providers: [{ provide: AUTH_CONFIG, useValue: config }, { provide: APP_GUARD, useClass: ApiKeyGuard }],
      exports: [AUTH_CONFIG],
    };
  }
}
