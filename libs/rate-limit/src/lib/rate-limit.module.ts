import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { RateLimitGuard } from './rate-limit.guard';
import { RateLimitService, type RateLimitOptions } from './rate-limit.service';

export interface RateLimitModuleOptions extends RateLimitOptions {
  /**
   * Registers RateLimitGuard as a global guard (APP_GUARD). Global guards run in the order their
   * modules are imported, so import the auth module first. Set false to place the guard yourself
   * (`@UseGuards(RateLimitGuard)` or `app.useGlobalGuards(app.get(RateLimitGuard))`). Default true.
   */
  globalGuard?: boolean;
}

/**
 * Per-client rate limiting on @nestjs/throttler. Provides RateLimitService (state, `degraded`,
 * listeners) and RateLimitGuard to the whole app.
 */
@Module({})
export class RateLimitModule {
  static forRoot(options: RateLimitModuleOptions): DynamicModule {
    const { globalGuard = true, ...limiterOptions } = options;
    const service = new RateLimitService(limiterOptions);
    return {
      module: RateLimitModule,
      global: true,
      imports: [
        ThrottlerModule.forRoot({
          throttlers: [{ name: service.policyName, limit: service.limit, ttl: service.windowSeconds * 1000 }],
          storage: service,
        }),
      ],
      providers: [
        { provide: RateLimitService, useValue: service },
        RateLimitGuard,
        ...(globalGuard ? [{ provide: APP_GUARD, useExisting: RateLimitGuard }] : []),
      ],
      exports: [RateLimitService, RateLimitGuard],
    };
  }
}
