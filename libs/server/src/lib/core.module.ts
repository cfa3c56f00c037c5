import { DynamicModule, Module } from '@nestjs/common';
import { HealthModule } from '@ml/health';
import { LoggingModule } from '@ml/logging';
import { MetricsModule } from '@ml/metrics';
import type { ServiceConfig } from '@ml/config';

export interface CoreOptions {
  service: string;
  config: ServiceConfig;
  /** Log destination; stdout by default. */
  logStream?: NodeJS.WritableStream;
}

/** What every service imports first: logging, health/lifecycle, metrics. */
@Module({})
export class CoreModule {
  static forRoot({ service, config, logStream }: CoreOptions): DynamicModule {
    const metrics = MetricsModule.forRoot({ service });
    return {
      // Process-wide infrastructure (one registry, one lifecycle per app): feature modules inject
      // it without importing it, as they would a logger.
      global: true,
      module: CoreModule,
      imports: [
        LoggingModule.forRoot({
          level: config.logLevel,
          service,
          stream: logStream,
          requestContext: config.logRequestContext,
          accessLogSample: config.accessLogSample,
          // Slow = half the default deadline gone: the point where admission sees requests queueing.
          slowRequestMs: config.requestTimeoutMs / 2,
        }),
        HealthModule,
        metrics,
      ],
      exports: [HealthModule, metrics],
    };
  }
}
