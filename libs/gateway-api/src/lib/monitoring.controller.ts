import { Controller, Get, Inject, UseGuards } from '@nestjs/common';
import { RateLimitGuard, RateLimitService } from '@ml/rate-limit';
import { ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { GATEWAY_REDIS_STATUS } from './gateway.constants';
import { GatewayService, type ModelName } from './gateway.service';

export type RedisStatusReporter = () => Record<string, unknown>;

@ApiTags('monitoring')
@ApiSecurity('api-key')
@UseGuards(RateLimitGuard)
@Controller('monitoring')
export class MonitoringController {
  constructor(
    private readonly gateway: GatewayService,
    @Inject(GATEWAY_REDIS_STATUS) private readonly redisStatus: RedisStatusReporter,
    private readonly limiter: RateLimitService,
  ) {}

  @Get('health')
  @ApiOperation({ summary: 'Per-model request health, cache statistics, upstream breakers, Redis' })
  @ApiOkResponse({ description: '{status, models, cache, upstreams: {<model>: {breaker, ready, version, endpoints: [{url, state, ready, pending, ...}]}}, redis, rate_limit}' })
  health() {
    const models = Object.fromEntries((Object.keys(this.gateway.stats) as ModelName[]).map((m) => [m, this.gateway.stats[m].health()]));
    const upstreams = Object.fromEntries((Object.keys(this.gateway.upstreams) as ModelName[]).map((m) => [m, this.gateway.upstreamHealth(m)]));
    const c = this.gateway.cache.stats();
    const anyFailing = Object.values(models).some((m) => m.status === 'failing') || Object.values(upstreams).some((u) => u.breaker === 'open');
    return {
      status: anyFailing ? 'degraded' : 'healthy',
      models,
      cache: { [c.name]: { size: c.size, hits: c.hits, misses: c.misses, hit_rate: Math.round(c.hitRate * 10000) / 10000, evictions: c.evictions, expirations: c.expirations } },
      upstreams,
      redis: this.redisStatus(),
      // Where the counters live: `redis` (shared by replicas), `memory` (no Redis configured) or
      // `memory-fallback` (Redis configured but unusable: limits are per process for now).
      rate_limit: { mode: this.limiter.mode, degraded: this.limiter.degraded, limit: this.limiter.limit, window_seconds: this.limiter.windowSeconds },
    };
  }

  @Get('statistics')
  @ApiOperation({ summary: 'Prediction statistics per model: outcomes, recent label distribution, confidence histogram' })
  statistics() {
    return Object.fromEntries((Object.keys(this.gateway.stats) as ModelName[]).map((m) => [m, this.gateway.stats[m].statistics()]));
  }
}
