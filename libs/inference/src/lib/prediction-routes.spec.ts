import { Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { loadServiceConfig } from '@ml/config';
import { CoreModule, startService, type RunningService } from '@ml/server';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { servePredictionRoutes } from './prediction-routes';

const budgets: number[] = [];

@Injectable()
class EchoRoutes implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}
  onModuleInit() {
    servePredictionRoutes(this.adapterHost, { '/predict/echo': async (_body, budgetMs) => (budgets.push(budgetMs), { budgetMs }) }, { requestTimeoutMs: 1000 });
  }
}

function testModule(): DynamicModule {
  const logStream = new PassThrough();
  logStream.resume();
  @Module({ imports: [CoreModule.forRoot({ service: 'routes-test', config: loadServiceConfig(0, { PORT: '0' }), logStream })], providers: [EchoRoutes] })
  class RoutesTestModule {}
  return { module: RoutesTestModule };
}

/** POSTs `{}` whose body arrives `delayMs` after its headers; resolves with the raw response text. */
async function slowPost(port: number, delayMs: number, timeoutHeader?: number): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  let text = '';
  socket.on('data', (d) => (text += d.toString()));
  const extra = timeoutHeader === undefined ? '' : `X-Request-Timeout-Ms: ${timeoutHeader}\r\n`;
  socket.write(`POST /predict/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n${extra}Connection: close\r\n\r\n`);
  await new Promise((r) => setTimeout(r, delayMs));
  socket.write('{}');
  await new Promise((r) => socket.once('close', r));
  return text;
}

describe('servePredictionRoutes on a real app', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService({ name: 'routes-test', module: testModule(), config: loadServiceConfig(0, { PORT: '0' }) });
  });
  afterAll(() => svc.shutdown());

  it('hands the handler the default budget, or the client\'s shorter one', async () => {
    const res = await request(`${svc.url}/predict/echo`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'x-request-timeout-ms': '400' } });
    const { budgetMs } = (await res.body.json()) as { budgetMs: number };
    expect(budgetMs).toBeGreaterThan(300);
    expect(budgetMs).toBeLessThanOrEqual(400);
  });

  it('spends the time the body took to arrive', async () => {
    const text = await slowPost(svc.port, 300);
    const budgetMs = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).budgetMs as number;
    // (Timers may fire a millisecond early.)
    expect(budgetMs).toBeLessThanOrEqual(705);
    expect(budgetMs).toBeGreaterThan(400);
  });

  it('answers 504 without calling the handler when the budget is spent before it runs', async () => {
    const before = budgets.length;
    const text = await slowPost(svc.port, 300, 150);
    expect(text).toMatch(/^HTTP\/1\.1 504 /);
    expect(text).toContain('urn:ml-services:problem:deadline-exceeded');
    expect(budgets.length).toBe(before);
  });
});
