import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { isTimeoutError } from './resilience.errors';
import { TimeoutPolicy } from './timeout-policy';

// Real sockets and real timers: proves the per-try signal actually cancels an undici keep-alive request.
describe('TimeoutPolicy with a real undici request', () => {
  let server: Server;
  let url: string;
  let serverSawAbort: Promise<void>;
  const agent = new Agent({ keepAliveTimeout: 10_000 });

  beforeAll(async () => {
    let markAborted!: () => void;
    serverSawAbort = new Promise((resolve) => (markAborted = resolve));
    server = createServer((req, res) => {
      if (req.url === '/fast') {
        res.end('fast');
        return;
      }
      // Never answers; notes when the client gives up on the request.
      res.on('close', () => markAborted());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await agent.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('returns the body of a request that answers in time', async () => {
    const policy = new TimeoutPolicy({ perTryMs: 2_000 });
    const body = await policy.execute(async ({ signal }) => {
      const res = await request(`${url}/fast`, { dispatcher: agent, signal });
      return res.body.text();
    });
    expect(body).toBe('fast');
  });

  it('aborts a hanging request on the wire and rejects with TimeoutError', async () => {
    const policy = new TimeoutPolicy({ perTryMs: 100 });
    const started = Date.now();
    const error = await policy
      .execute(({ signal }) => request(`${url}/hang`, { dispatcher: agent, signal }))
      .catch((e: unknown) => e);
    expect(isTimeoutError(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(serverSawAbort).resolves.toBeUndefined();
  });
});
