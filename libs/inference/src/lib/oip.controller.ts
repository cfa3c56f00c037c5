import { Body, Controller, Get, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { REQUEST_TIMEOUT_HEADER, remainingBudgetMs } from '@ml/contracts';
import { LifecycleService } from '@ml/health';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { UnknownModelError } from './inference.errors';
import { parseInferRequest } from './oip.request';
import { PROTOCOL_MODELS, type ProtocolModel } from './oip.types';

export const OIP_SERVER_INFO = Symbol('OIP_SERVER_INFO');
export interface OipServerInfo {
  name: string;
  version: string;
  /** Default request budget in ms, narrowed by X-Request-Timeout-Ms. */
  requestTimeoutMs: number;
}

/**
 * Open Inference Protocol (KServe V2 REST) over the models this app serves. Health answers 200
 * for true and 400 for false, as the protocol (and Triton) do; errors are `{"error": "..."}`.
 */
@ApiExcludeController()
@Controller('v2')
export class OipController {
  constructor(
    @Inject(PROTOCOL_MODELS) private readonly models: ProtocolModel[],
    @Inject(OIP_SERVER_INFO) private readonly info: OipServerInfo,
    private readonly lifecycle: LifecycleService,
  ) {}

  @Get()
  server() {
    return { name: this.info.name, version: this.info.version, extensions: ['classification', 'model_repository_health'] };
  }

  @Get('health/live')
  live() {
    return { live: true };
  }

  @Get('health/ready')
  ready(@Res() reply: FastifyReply) {
    const ready = this.lifecycle.ready && this.models.every((m) => m.ready);
    reply.status(ready ? 200 : 400).send({ ready });
  }

  @Get('models/:name')
  metadata(@Param('name') name: string) {
    return this.describe(this.find(name));
  }

  @Get('models/:name/versions/:version')
  versionMetadata(@Param('name') name: string, @Param('version') version: string) {
    return this.describe(this.find(name, version));
  }

  @Get('models/:name/ready')
  modelReady(@Param('name') name: string, @Res() reply: FastifyReply) {
    return this.readiness(this.find(name), reply);
  }

  @Get('models/:name/versions/:version/ready')
  versionReady(@Param('name') name: string, @Param('version') version: string, @Res() reply: FastifyReply) {
    return this.readiness(this.find(name, version), reply);
  }

  @Post('models/:name/infer')
  @HttpCode(200)
  infer(@Param('name') name: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    return this.run(this.find(name), body, req);
  }

  @Post('models/:name/versions/:version/infer')
  @HttpCode(200)
  inferVersion(
    @Param('name') name: string,
    @Param('version') version: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    return this.run(this.find(name, version), body, req);
  }

  private find(name: string, version?: string): ProtocolModel {
    const model = this.models.find((m) => m.name === name);
    if (!model) throw new UnknownModelError(name);
    if (version !== undefined && version !== model.version) throw new UnknownModelError(name, version);
    return model;
  }

  private describe(m: ProtocolModel) {
    return { name: m.name, versions: [m.version], platform: m.platform, inputs: m.inputs, outputs: m.outputs };
  }

  private readiness(m: ProtocolModel, reply: FastifyReply) {
    const ready = m.ready && !this.lifecycle.draining;
    reply.status(ready ? 200 : 400).send({ name: m.name, ready });
  }

  /** The budget counts from the request's arrival: reading and parsing the body are spent time too. */
  private run(model: ProtocolModel, body: unknown, req: FastifyRequest) {
    const budgetMs = remainingBudgetMs(req.raw, req.headers[REQUEST_TIMEOUT_HEADER], this.info.requestTimeoutMs);
    return model.infer(parseInferRequest(body), Math.max(1, budgetMs));
  }
}
