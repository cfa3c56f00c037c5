import { DynamicModule, Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Counter, Gauge, METRICS_REGISTRY, Registry } from '@ml/metrics';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AdmissionController, type AdmissionSnapshot } from './admission.controller';
import type { AdmissionSettings } from './admission.config';
import { installAdmission } from './admission.hook';

export interface AdmissionModuleOptions {
  settings: AdmissionSettings;
  /** The targets admitted separately (one model's overload never sheds another's traffic). */
  targets: readonly string[];
  targetOf: (method: string, path: string) => string | undefined;
  keyOf: (request: FastifyRequest) => string;
  remainingMs: (request: FastifyRequest) => number;
}

const ADMISSION_OPTIONS = Symbol('ADMISSION_OPTIONS');

/** The app's admission controllers, one per target; their state for monitoring. */
@Injectable()
export class AdmissionService implements OnModuleInit {
  readonly controllers = new Map<string, AdmissionController>();

  constructor(
    @Inject(ADMISSION_OPTIONS) private readonly options: AdmissionModuleOptions,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    const s = options.settings;
    for (const target of options.targets) {
      this.controllers.set(
        target,
        new AdmissionController({ name: target, minInFlight: s.minInFlight, maxInFlight: s.maxInFlight, fairnessAt: s.fairnessAt, windowMs: s.windowMs }),
      );
    }
  }

  snapshot(): Record<string, AdmissionSnapshot> {
    return Object.fromEntries([...this.controllers].map(([name, c]) => [name, c.snapshot()]));
  }

  onModuleInit() {
    const shed = new Counter({
      name: 'ml_load_shed_total',
      help: 'Requests answered 503 at once instead of queued, by target and reason (deadline, fair_share, capacity)',
      labelNames: ['target', 'reason'],
      registers: [this.registry],
    });
    const controllers = this.controllers;
    new Gauge({
      name: 'ml_admission_in_flight',
      help: 'Requests admitted and not yet answered, by target',
      labelNames: ['target'],
      registers: [this.registry],
      collect() {
        for (const [target, c] of controllers) this.set({ target }, c.inFlight);
      },
    });
    if (!this.options.settings.enabled) return;
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify?.addHook) return;
    installAdmission(fastify, {
      controllers,
      targetOf: this.options.targetOf,
      keyOf: this.options.keyOf,
      remainingMs: this.options.remainingMs,
      onShed: (e) => shed.inc({ target: e.target, reason: e.reason }),
    });
  }
}

/**
 * Load shedding for an app: `forRoot` names the targets and how a request maps to one. Import it
 * after CoreModule (it registers its metrics on the app's registry).
 */
@Module({})
export class AdmissionModule {
  static forRoot(options: AdmissionModuleOptions): DynamicModule {
    return {
      module: AdmissionModule,
      providers: [{ provide: ADMISSION_OPTIONS, useValue: options }, AdmissionService],
      exports: [AdmissionService],
    };
  }
}
