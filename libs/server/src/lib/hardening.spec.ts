import { Body, Controller, Get, Module, Post, Req, type DynamicModule } from '@nestjs/common';
import { loadServiceConfig } from '@ml/config';
import { REQUEST_TIMEOUT_HEADER, remainingBudgetMs } from '@ml/contracts';
import type { FastifyRequest } from 'fastify';
import { connect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { startService, type RunningService } from './bootstrap';
import { CoreModule } from './core.module';

@Controller()
class EchoController {
  @Post('things')
  one(@Body() body: unknown) {
    return { got: body };
  }
  @Get('both')
  getBoth() {
    return { ok: true };
  }
  @Post('both')
  postBoth() {
    return { ok: true };
  }
  @Post('v2/models/m/infer')
  infer(@Body() body: unknown) {
    return { got: body };
  }
  /** Reports what is left of the request's budget once its body has arrived. */
  @Post('budget')
  budget(@Req() req: FastifyRequest) {
    return { remaining: remainingBudgetMs(req.raw, req.headers[REQUEST_TIMEOUT_HEADER], 2000) };
  }
}

const ENV = { PORT: '0', HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '600', JSON_MAX_DEPTH: '32' };

function testModule(): DynamicModule {
  const logStream = new PassThrough();
  logStream.resume();
  @Module({ imports: [CoreModule.forRoot({ service: 'hard-svc', config: loadServiceConfig(0, ENV), logStream })], controllers: [EchoController] })
  class HardeningModule {}
  return { module: HardeningModule };
}

interface RawResponse {
  head: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from connecting until the server closed the socket. */
  closedAfterMs: number;
}

/** Parses the first HTTP response in `text` (100 Continue skipped when asked). */
function parse(text: string, closedAfterMs: number): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end >= 0 ? text.slice(0, end) : text;
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { head, status: Number(statusLine.split(' ')[1]), headers, body: end >= 0 ? text.slice(end + 4) : '', closedAfterMs };
}

/** Opens a raw socket, lets `drive` write to it, and collects everything until the server closes it. */
async function raw(port: number, drive: (socket: Socket) => void | Promise<void>, maxMs = 5000): Promise<{ text: string; closedAfterMs: number }> {
  const started = performance.now();
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  let text = '';
  socket.on('data', (d) => (text += d.toString('latin1')));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const timer = setTimeout(() => socket.destroy(), maxMs);
  await drive(socket);
  await closed;
  clearTimeout(timer);
  return { text, closedAfterMs: performance.now() - started };
}

const rawOnce = async (port: number, bytes: string | Buffer) => {
  const { text, closedAfterMs } = await raw(port, (s) => void s.write(bytes));
  return parse(text, closedAfterMs);
};

const post = async (url: string, body: string, headers: Record<string, string> = {}) => {
  const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: JSON.parse(text) as Record<string, unknown> };
};

const expectProblem = (res: RawResponse, status: number, slug: string) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  expect(res.headers['connection']).toBe('close');
  const problem = JSON.parse(res.body);
  expect(problem).toMatchObject({ type: `urn:ml-services:problem:${slug}`, status, request_id: res.headers['x-request-id'] });
  expect(Object.keys(problem).sort()).toEqual(['detail', 'instance', 'request_id', 'status', 'title', 'type']);
  return problem as { detail: string; instance: string };
};

describe('a service under hostile clients, on a real port', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService({ name: 'hard-svc', module: testModule(), config: loadServiceConfig(0, ENV), isBatchRoute: (p) => p.endsWith('/infer') });
  });
  afterAll(async () => {
    await svc?.shutdown('test end');
  });

  describe('deep nesting', () => {
    const deep = (n: number) => `{"query": ${'['.repeat(n)}"x"${']'.repeat(n)}}`;

    it('refuses a body nested 10,000 deep with a 400 naming the limit, before anything recurses', async () => {
      const res = await post(`${svc.url}/things`, deep(10_000));
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(res.json).toMatchObject({ type: 'urn:ml-services:problem:nesting-too-deep', detail: 'The body nests arrays or objects deeper than 32 levels.' });
      // The process is fine and still answers.
      expect((await post(`${svc.url}/things`, '{"a":1}')).status).toBe(201);
    });

    it('accepts the limit itself, and counts no brackets inside strings', async () => {
      expect((await post(`${svc.url}/things`, deep(31))).status).toBe(201);
      expect((await post(`${svc.url}/things`, deep(32))).status).toBe(400);
      const text = `{"query": "${'[{'.repeat(5000)}"}`;
      expect(await post(`${svc.url}/things`, text)).toMatchObject({ status: 201, json: { got: { query: '[{'.repeat(5000) } } });
      const escaped = `{"query": "\\"${'['.repeat(100)}"}`;
      expect((await post(`${svc.url}/things`, escaped)).status).toBe(201);
    });

    it('answers in the Open Inference Protocol shape on /v2', async () => {
      const res = await post(`${svc.url}/v2/models/m/infer`, deep(1500));
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ error: 'The body nests arrays or objects deeper than 32 levels.' });
    });
  });

  it('refuses a compressed body with 415 rather than a misleading 400', async () => {
    const res = await request(`${svc.url}/both`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    expect(res.statusCode).toBe(415);
    expect(await res.body.json()).toMatchObject({ type: 'urn:ml-services:problem:unsupported-media-type', detail: expect.stringContaining('Content-Encoding') });
  });

  describe('server timeouts', () => {
    it('closes a socket that trickles its body with 408 problem+json within the request timeout', async () => {
      const body = '{"slow": "client, one byte at a time"}';
      const { text, closedAfterMs } = await raw(svc.port, async (s) => {
        s.write(`POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
        for (const ch of body) {
          if (s.destroyed) return;
          s.write(ch);
          await new Promise((r) => setTimeout(r, 100));
        }
      });
      const res = parse(text, closedAfterMs);
      const problem = expectProblem(res, 408, 'request-timeout');
      expect(problem.instance).toBe('/things');
      // 1000 ms timeout, checked every 150 ms: never the 3.8 s the client wanted.
      expect(closedAfterMs).toBeLessThan(1800);
    });

    it('closes a socket whose headers never end with 408', async () => {
      const { text, closedAfterMs } = await raw(svc.port, (s) => void s.write('GET /health/live HTTP/1.1\r\nHost: x\r\n'));
      expectProblem(parse(text, closedAfterMs), 408, 'request-timeout');
      expect(closedAfterMs).toBeLessThan(1500);
    });

    it('keeps idle keep-alive sockets open longer than the gateway pool keeps them', async () => {
      expect(svc.app.getHttpServer().keepAliveTimeout).toBe(65_000);
      expect(svc.app.getHttpServer().headersTimeout).toBe(600);
      expect(svc.app.getHttpServer().requestTimeout).toBe(1000);
    });
  });

  describe('what Node refuses before a request exists', () => {
    it('answers headers over the limit with 431 problem+json', async () => {
      const res = await rawOnce(svc.port, `GET /both HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expectProblem(res, 431, 'headers-too-large');
    });

    it('answers a URL over the limit with 431, in the /v2 shape on /v2 paths', async () => {
      const plain = await rawOnce(svc.port, `GET /both?${'q'.repeat(17_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      // The path is echoed as the instance; the query never is.
      expect(expectProblem(plain, 431, 'headers-too-large').instance).toBe('/both');
      const v2 = await rawOnce(svc.port, `GET /v2/models/${'m'.repeat(17_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(v2.status).toBe(431);
      expect(v2.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(v2.headers['x-request-id']).toBeDefined();
      expect(JSON.parse(v2.body)).toEqual({ error: expect.stringContaining('exceed') });
    });

    it.each([
      ['a bare LF inside a header value', 'GET /both HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'],
      ['a control character in a header', 'GET /both HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n'],
      ['a header name with a space', 'GET /both HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n'],
    ])('answers %s with 400 problem+json', async (_what, bytes) => {
      const res = await rawOnce(svc.port, bytes);
      const problem = expectProblem(res, 400, 'bad-request');
      expect(problem.instance).toBe('/both');
    });

    it('answers a target with bad percent-encoding with 400 in the contract shape (Fastify router errors too)', async () => {
      const res = await request(`${svc.url}/both/%E0%A4%A`);
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(await res.body.json()).toMatchObject({ type: 'urn:ml-services:problem:bad-request', status: 400 });
      const v2 = await request(`${svc.url}/v2/models/%ZZ`);
      expect(v2.statusCode).toBe(400);
      expect(await v2.body.json()).toEqual({ error: expect.stringContaining('not a valid URL') });
    });

    it('answers a pipelined request behind a bad one in order: the good answer first, then 400, then close', async () => {
      const good = 'GET /both HTTP/1.1\r\nHost: x\r\n\r\n';
      const { text } = await raw(svc.port, (s) => void s.write(good + 'GET /both HTTP/1.1\r\nno colon here\r\n\r\n' + good));
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
      expect(statuses).toEqual([200, 400]);
    });

    it('answers an HTTP/2 preface with 400 saying HTTP/1.1 is spoken', async () => {
      const res = await rawOnce(svc.port, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      expect(expectProblem(res, 400, 'bad-request').detail).toContain('HTTP/1.1');
    });
  });

  describe('wrong methods', () => {
    const call = async (method: string, path: string) => {
      const res = await request(`${svc.url}${path}`, { method: method as 'GET' });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined };
    };

    it('answers 405 with Allow where the path has other methods, 404 where it has none', async () => {
      const get = await call('GET', '/things');
      expect(get.status).toBe(405);
      expect(get.headers['allow']).toBe('POST');
      expect(get.headers['x-request-id']).toBeDefined();
      expect(get.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(get.json).toMatchObject({ type: 'urn:ml-services:problem:method-not-allowed', status: 405, instance: '/things' });
      const del = await call('DELETE', '/both?x=1');
      expect(del.status).toBe(405);
      expect(del.headers['allow']).toBe('GET, HEAD, POST');
      expect((await call('GET', '/nothing-here')).status).toBe(404);
    });

    it('speaks {"error"} on /v2 paths', async () => {
      const put = await call('PUT', '/v2/models/m/infer');
      expect(put.status).toBe(405);
      expect(put.headers['allow']).toBe('POST');
      expect(put.json).toEqual({ error: expect.stringContaining('does not answer PUT') });
    });
  });

  describe('Expect: 100-continue', () => {
    it('refuses a declared body over the limit with 413 at once, without 100 Continue', async () => {
      const res = await rawOnce(
        svc.port,
        `POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${200_000}\r\nExpect: 100-continue\r\n\r\n`,
      );
      expect(res.head).not.toContain('100 Continue');
      expectProblem(res, 413, 'body-too-large');
    });

    it('sends 100 Continue for a body within the limit, then serves the request', async () => {
      const body = '{"a":1}';
      const { text } = await raw(svc.port, async (s) => {
        s.write(`POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
        await new Promise((r) => setTimeout(r, 100));
        s.write(body);
      });
      expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
      expect(text).toContain('{"got":{"a":1}}');
    });
  });

  describe('the request clock', () => {
    it('starts when the request arrives: time spent receiving the body is spent from the budget', async () => {
      const body = '{"a":1}';
      const { text } = await raw(svc.port, async (s) => {
        s.write(`POST /budget HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nX-Request-Timeout-Ms: 900\r\nConnection: close\r\n\r\n`);
        await new Promise((r) => setTimeout(r, 300));
        s.write(body);
      });
      const remaining = JSON.parse(parse(text, 0).body).remaining as number;
      // (Timers may fire a millisecond early.)
      expect(remaining).toBeLessThanOrEqual(605);
      expect(remaining).toBeGreaterThan(300);
    });
  });
});
