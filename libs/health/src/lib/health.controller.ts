import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { LifecycleService } from './lifecycle.service';

/**
 * Kubernetes probes. Liveness checks nothing but the event loop answering. Readiness is this
 * process's own state (booted, gates open, not draining); dependencies appear in `details` only.
 */
@ApiExcludeController()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly lifecycle: LifecycleService,
  ) {}

  @Get('live')
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  ready(@Res() reply: FastifyReply) {
    return this.readiness(reply);
  }

  /** Kept from the original system: an alias of readiness. */
  @Get()
  alias(@Res() reply: FastifyReply) {
    return this.readiness(reply);
  }

  private async readiness(reply: FastifyReply) {
    try {
      const result = await this.health.check([
        () => {
          const s = this.indicators.check('process');
          const phase = this.lifecycle.current;
          return phase === 'ready' ? s.up({ phase }) : s.down({ phase });
        },
        ...Object.entries(this.lifecycle.gateStates()).map(([name, open]) => () => {
          const s = this.indicators.check(name);
          return open ? s.up() : s.down();
        }),
        ...Object.entries(this.lifecycle.infoStates()).map(([name, info]) => () =>
          this.indicators.check(name).up(info),
        ),
      ]);
      reply.status(200).send(result);
    } catch (e) {
      // Terminus throws a 503 carrying the same result body; send it as the probe expects.
      const body = (e as { getResponse?: () => unknown }).getResponse?.() ?? { status: 'error' };
      reply.status(503).header('cache-control', 'no-store').send(body);
    }
  }
}
