import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { isConfigError } from '@ml/config';
import { ProblemFilter } from '@ml/errors';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { DEV_API_KEY, loadAuthConfig, type AuthConfig } from './auth.config';
import { Public, RequiresScope, matchKey, presentedSecret, type AuthedRequest } from './auth.guard';
import { AuthModule } from './auth.module';
import { Req } from '@nestjs/common';

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

describe('loadAuthConfig', () => {
  it('falls back to the development key outside production', () => {
    const c = loadAuthConfig({});
    expect(c.devKey).toBe(true);
    expect(c.keys.map((k) => k.name)).toEqual(['development']);
    expect(matchKey(c.keys, DEV_API_KEY)?.name).toBe('development');
  });

  it('refuses to start in production without keys', () => {
    expect(() => loadAuthConfig({ NODE_ENV: 'production' })).toThrow('Invalid configuration: ML_API_KEYS must be set');
  });

  it('parses several keys with scopes (rotation: two active at once)', () => {
    const c = loadAuthConfig({ ML_API_KEYS: `mobile:${hex('a')}:intent-classifier, fraud:${hex('b')}:anomaly-detector|intent-classifier,old-mobile:${hex('c')}` });
    expect(c.keys.map((k) => [k.name, k.scopes])).toEqual([
      ['mobile', ['intent-classifier']],
      ['fraud', ['anomaly-detector', 'intent-classifier']],
      ['old-mobile', []],
    ]);
    expect(c.devKey).toBe(false);
    expect(matchKey(c.keys, 'c')?.name).toBe('old-mobile');
    expect(matchKey(c.keys, 'nope')).toBeUndefined();
    expect(matchKey(c.keys, 'x'.repeat(10_000))).toBeUndefined();
  });

  it.each([
    ['just-a-name', 'must be name:sha256hex'],
    [`bad name!:${hex('a')}`, 'invalid name'],
    ['k:abc', '64-hex-digit'],
    [`k:${hex('a')}:payments`, 'unknown scope "payments"'],
    [`k:${hex('a')},k:${hex('b')}`, 'repeats the name "k"'],
    [`k:${hex('a')}:x:y`, 'must be name:sha256hex'],
  ])('names ML_API_KEYS for %p', (value, message) => {
    try {
      loadAuthConfig({ ML_API_KEYS: value });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect(isConfigError(e) && e.variable).toBe('ML_API_KEYS');
      expect((e as Error).message).toContain(message);
      expect((e as Error).message).not.toContain(hex('a'));
    }
  });

  it('validates METRICS_REQUIRE_KEY', () => {
    expect(loadAuthConfig({ METRICS_REQUIRE_KEY: 'true' }).metricsRequireKey).toBe(true);
    expect(() => loadAuthConfig({ METRICS_REQUIRE_KEY: 'maybe' })).toThrow('METRICS_REQUIRE_KEY');
  });
});

describe('presentedSecret', () => {
  it('reads X-API-Key first, then a Bearer token', () => {
    expect(presentedSecret({ 'x-api-key': 'k1', authorization: 'Bearer k2' })).toBe('k1');
    expect(presentedSecret({ authorization: 'bearer   k2 ' })).toBe('k2');
    expect(presentedSecret({ authorization: 'Basic abc' })).toBeUndefined();
    expect(presentedSecret({})).toBeUndefined();
  });
});

@Controller()
class TestController {
  @Get('intent')
  @RequiresScope('intent-classifier')
  intent(@Req() req: AuthedRequest) {
    return { key: req.apiKey?.name };
  }
  @Get('anomaly')
  @RequiresScope('anomaly-detector')
  anomaly() {
    return { ok: true };
  }
  @Get('health')
  @Public()
  health() {
    return { ok: true };
  }
  @Get('metrics')
  @Public()
  metrics() {
    return { ok: true };
  }
}

async function start(config: AuthConfig) {
  const mod: DynamicModule = { module: class AuthTestModule {}, imports: [AuthModule.forRoot(config)], controllers: [TestController] };
  Module({})(mod.module);
  const app = await NestFactory.create<NestFastifyApplication>(mod, new FastifyAdapter(), { logger: false });
  app.useGlobalFilters(new ProblemFilter());
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: await app.getUrl() };
}

describe('ApiKeyGuard on a real app', () => {
  let app: NestFastifyApplication;
  let base: string;
  beforeAll(async () => {
    ({ app, base } = await start(loadAuthConfig({ ML_API_KEYS: `mobile:${hex('secret-mobile')}:intent-classifier,ops:${hex('secret-ops')}` })));
  });
  afterAll(() => app.close());

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const r = await request(base + path, { headers });
    const text = await r.body.text();
    return { status: r.statusCode, type: r.headers['content-type'], body: JSON.parse(text), text };
  };

  it('lets a valid key through and records its name (never the secret)', async () => {
    expect((await get('/intent', { 'x-api-key': 'secret-mobile' })).body).toEqual({ key: 'mobile' });
    expect((await get('/intent', { authorization: 'Bearer secret-ops' })).body).toEqual({ key: 'ops' });
  });

  it('answers a missing or wrong key of any length with 401 problem+json', async () => {
    for (const headers of [{}, { 'x-api-key': 'nope' }, { 'x-api-key': 'z'.repeat(4000) }, { authorization: 'Bearer ' + 'q'.repeat(300) }] as Record<string, string>[]) {
      const res = await get('/intent', headers);
      expect(res.status).toBe(401);
      expect(res.type).toBe('application/problem+json; charset=utf-8');
      expect(res.text).not.toContain('nope');
    }
  });

  it('answers a key without the model scope with 403', async () => {
    const res = await get('/anomaly', { 'x-api-key': 'secret-mobile' });
    expect(res.status).toBe(403);
    expect(res.body.detail).toBe('The API key "mobile" may not call anomaly-detector.');
    expect((await get('/anomaly', { 'x-api-key': 'secret-ops' })).status).toBe(200);
  });

  it('needs no key on public paths', async () => {
    expect((await get('/health')).status).toBe(200);
    expect((await get('/metrics')).status).toBe(200);
  });

  it('can require a key for metrics', async () => {
    const locked = await start(loadAuthConfig({ METRICS_REQUIRE_KEY: 'true' }));
    try {
      expect((await request(`${locked.base}/metrics`)).statusCode).toBe(401);
      expect((await request(`${locked.base}/metrics`, { headers: { 'x-api-key': DEV_API_KEY } })).statusCode).toBe(200);
      expect((await request(`${locked.base}/health`)).statusCode).toBe(200);
    } finally {
      await locked.app.close();
    }
  });
});
