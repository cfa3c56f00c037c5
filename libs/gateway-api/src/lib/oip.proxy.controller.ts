import { Body, Controller, Get, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { RateLimitGuard } from '@ml/rate-limit';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ForbiddenError, type AuthedRequest } from '@ml/auth';
import { REQUEST_TIMEOUT_HEADER, remainingBudgetMs } from '@ml/contracts';
import { ServiceError } from '@ml/errors';
import { LifecycleService } from '@ml/health';
import type { FastifyReply } from 'fastify';
import { Inject } from '@nestjs/common';
import { GATEWAY_OPTIONS } from './gateway.constants';
import { GatewayService, MODEL_NAMES, type ModelName } from './gateway.service';
import type { GatewayOptions } from './predict.controller';


/**
 * The Open Inference Protocol at the front door: server health is the gateway's own; every
 * `/v2/models/{name}/...` request is checked for the key's scope and passed to that model's app.
 * Only GET and POST exist there: any other method finds no route, and the server answers 405 with
 * `Allow` (libs/server), as it answers 404 for unknown paths, both as `{"error"}` on /v2. There is
 * deliberately no catch-all route here: one would turn a wrong method into a 404, or forward it.
 */
@ApiTags('open inference protocol')
@ApiSecurity('api-key')
@UseGuards(RateLimitGuard)
@Controller('v2')
export class OipProxyController {
  constructor(
    private readonly gateway: GatewayService,
    private readonly lifecycle: LifecycleService,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayOptions,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Server metadata' })
  server() {
    return { name: 'ml-services gateway', version: '1.0.0', extensions: ['classification', 'model_repository_health'] };
  }

  @Get('health/live')
  @ApiOperation({ summary: 'Server liveness' })
  live() {
    return { live: true };
  }

  @Get('health/ready')
  @ApiOperation({ summary: 'Server readiness (200 ready, 400 not)' })
  ready(@Res() reply: FastifyReply) {
    reply.status(this.lifecycle.ready ? 200 : 400).send({ ready: this.lifecycle.ready });
  }

  @Get('models/:name')
  @ApiOperation({ summary: 'Model metadata (proxied)' })
  metadata(@Param('name') name: string, @Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.forward(name, 'GET', undefined, req, reply);
  }

  @Get('models/:name/ready')
  @ApiOperation({ summary: 'Model readiness (proxied)' })
  modelReady(@Param('name') name: string, @Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.forward(name, 'GET', undefined, req, reply);
  }

  @Get('models/:name/versions/:version')
  @ApiOperation({ summary: 'Model version metadata (proxied)' })
  versionMetadata(@Param('name') name: string, @Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.forward(name, 'GET', undefined, req, reply);
  }

  @Get('models/:name/versions/:version/ready')
  @ApiOperation({ summary: 'Model version readiness (proxied)' })
  versionReady(@Param('name') name: string, @Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.forward(name, 'GET', undefined, req, reply);
  }

  // The protocol's routes one by one, as the model apps serve them: a method a path does not have
  // is answered 405 with the Allow of that path (`POST` for infer), never forwarded.
  @Post('models/:name/infer')
  @ApiOperation({ summary: 'Inference, proxied to the model service' })
  infer(@Param('name') name: string, @Body() body: unknown, @Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.forward(name, 'POST', body, req, reply);
  }

  @Post('models/:name/versions/:version/infer')
  @ApiOperation({ summary: 'Inference on a version, proxied to the model service' })
  inferVersion(@Param('name') name: string, @Body() body: unknown, @Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.forward(name, 'POST', body, req, reply);
  }

  private async forward(name: string, method: 'GET' | 'POST', body: unknown, req: AuthedRequest, reply: FastifyReply) {
    if (!(MODEL_NAMES as readonly string[]).includes(name)) {
      reply.status(404).send({ error: `No model named "${name}" is served here.` });
      return;
    }
    const model = name as ModelName;
    const scopes = req.apiKey?.scopes ?? [];
    if (scopes.length > 0 && !scopes.includes(model)) throw new ForbiddenError(`The API key "${req.apiKey?.name}" may not call ${model}.`);
    // Counted from the request's arrival at the server: parsing and auth are spent budget too.
    const budgetMs = remainingBudgetMs(req.raw, req.headers[REQUEST_TIMEOUT_HEADER], this.options.requestTimeoutMs);
    if (budgetMs <= 0) {
      throw new ServiceError('DEADLINE_EXCEEDED', `${model}: deadline passed before forwarding`, {
        publicDetail: 'The request deadline passed before the model could be called.',
      });
    }
    const res = await this.gateway.proxy(model, method, req.url, body, { requestId: String(req.id), budgetMs });
    if (res.retryAfter) reply.header('retry-after', res.retryAfter);
    if (res.allow) reply.header('allow', res.allow);
    reply.status(res.status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(res.body ?? {}));
  }
}
