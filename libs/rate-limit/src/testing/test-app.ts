import { Body, CanActivate, Controller, ExecutionContext, Get, Injectable, Module, Post, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ProblemFilter } from '@ml/errors';
import { request, type Dispatcher } from 'undici';
import { RateLimitCost, SkipRateLimit, batchCost } from '../lib/rate-limit.decorators';
import { RateLimitModule, type RateLimitModuleOptions } from '../lib/rate-limit.module';
import { RateLimitService } from '../lib/rate-limit.service';

/** Stands in for the real auth guard: `x-test-key: <name>` authenticates as that key. */
@Injectable()
class TestAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, unknown>; apiKey?: unknown }>();
    const name = req.headers['x-test-key'];
    if (typeof name === 'string') req.apiKey = { name, scopes: [] };
    return true;
  }
}

/** Registered as a global guard, like the real AuthModule; imported before the rate limiter. */
@Module({ providers: [{ provide: APP_GUARD, useClass: TestAuthGuard }] })
class TestAuthModule {}

@Controller()
class LimitedController {
  @Get('ping')
  ping() {
    return { ok: true };
  }

  @Post('batch')
  @RateLimitCost(batchCost('queries', 'transactions'))
  batch(@Body() body: { queries?: unknown[]; transactions?: unknown[] }) {
    return { items: (body.queries ?? body.transactions ?? []).length };
  }

  @Get('heavy')
  @RateLimitCost(5)
  heavy() {
    return { ok: true };
  }

  @Post('picky')
  @RateLimitCost(() => {
    throw new Error('cannot read this body');
  })
  picky() {
    return { ok: true };
  }

  @Get('health')
  @SkipRateLimit()
  health() {
    return { status: 'ok' };
  }
}

@SkipRateLimit()
@Controller('docs')
class DocsController {
  @Get()
  docs() {
    return { docs: true };
  }
}

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  limiter: RateLimitService;
  close(): Promise<void>;
}

/** A real Nest app on Fastify on a free port, with the rate limiter wired as the gateway wires it. */
export async function startTestApp(
  options: RateLimitModuleOptions,
  fastify: { trustProxy?: boolean } = {},
  beforeListen: (app: NestFastifyApplication) => void = () => undefined,
): Promise<TestApp> {
  const limiterModule: DynamicModule = RateLimitModule.forRoot(options);
  @Module({ imports: [TestAuthModule, limiterModule], controllers: [LimitedController, DocsController] })
  class AppModule {}

  const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter({ trustProxy: fastify.trustProxy ?? false }), {
    logger: false,
  });
  app.useGlobalFilters(new ProblemFilter());
  beforeListen(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = await app.getUrl();
  return { app, url, limiter: app.get(RateLimitService), close: () => app.close() };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  ms: number;
}

/** One HTTP request; `key` authenticates through the test auth guard. */
export async function call(
  url: string,
  path: string,
  opts: { key?: string; method?: 'GET' | 'POST'; body?: unknown; headers?: Record<string, string>; dispatcher?: Dispatcher } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers['x-test-key'] = opts.key;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const started = performance.now();
  const res = await request(url + path, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    dispatcher: opts.dispatcher,
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    ms: performance.now() - started,
  };
}

/** Parses `"default";r=3;t=42` into { r: 3, t: 42 }. */
export function parseRateLimit(value: unknown): Record<string, number> {
  const text = String(value);
  const out: Record<string, number> = {};
  for (const part of text.split(';').slice(1)) {
    const [k, v] = part.split('=');
    out[k] = Number(v);
  }
  return out;
}
