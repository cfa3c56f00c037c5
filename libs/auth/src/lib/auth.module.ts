import { DynamicModule, Inject, Logger, Module, type OnModuleInit } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { AuthConfig } from './auth.config';
import { AUTH_CONFIG } from './auth.constants';
import { ApiKeyGuard } from './auth.guard';

/** API-key authentication as a global guard. Import it before the rate limiter so limits see the key. */
@Module({})
export class AuthModule implements OnModuleInit {
  constructor(@Inject(AUTH_CONFIG) private readonly config: AuthConfig) {}

  static forRoot(config: AuthConfig): DynamicModule {
    return {
      module: AuthModule,
      // The guard is a provider of its own too, so a route Fastify serves directly can call it.
      providers: [{ provide: AUTH_CONFIG, useValue: config }, ApiKeyGuard, { provide: APP_GUARD, useExisting: ApiKeyGuard }],
      exports: [AUTH_CONFIG, ApiKeyGuard],
    };
  }

  // Warned at init rather than in forRoot (which main.ts calls before Nest exists): the line then
  // goes through the app's logger, JSON like every other, instead of Nest's console logger.
  onModuleInit() {
    if (this.config.devKey) {
      new Logger('Auth').warn('ML_API_KEYS is not set: accepting the development key only (see README). Never do this in production.');
    }
  }
}
