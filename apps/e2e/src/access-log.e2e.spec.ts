import { request } from 'undici';
import { http } from './support/http';
import { rawExchange } from './support/raw-http';
import { runToExit, startApp, type RunningApp } from './support/processes';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ready(app: RunningApp) {
  for (let i = 0; i < 300 && (await http(`${app.url}/health/ready`)).status !== 200; i++) await sleep(100);
}

/** The access-log lines among what the app wrote: request id -> status. */
function accessLog(app: RunningApp): Map<string, number> {
  const seen = new Map<string, number>();
  for (const line of app.lines) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as { msg?: string; request_id?: string; res?: { statusCode: number } };
    if ((l.msg === 'request completed' || l.msg === 'request errored') && l.request_id) seen.set(l.request_id, l.res?.statusCode ?? 0);
  }
  return seen;
}

describe('access log: buffered, yet every completed request is in it', () => {
  // stdout as a Node parent gives it (a socket: lines go through the thread pool) and as a
  // container runtime does (a FIFO: written at once, through a non-blocking descriptor).
  it.each(['pipe', 'fifo'] as const)('on SIGTERM with requests in flight, writes the line of every request that was answered (stdout: %s)', async (stdout) => {
    const app = await startApp('intent-classifier', { SHUTDOWN_DELAY_MS: '0', SHUTDOWN_DRAIN_MS: '10000' }, 30_000, { stdout });
    await ready(app);

    // One request certainly in flight at the signal: its body arrives 600 ms after its headers.
    const body = JSON.stringify({ query: 'my card has not arrived yet' });
    const half = Math.floor(body.length / 2);
    const head = `POST /predict/intent HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nX-Request-Id: slow-body\r\n\r\n`;
    const slow = rawExchange(app.port, head + body.slice(0, half), { streamed: Buffer.from(body.slice(half)), pauseMs: 600 });

    // And a closed loop of 8 clients until the listener goes away.
    const answered = new Map<string, number>();
    let stop = false;
    let n = 0;
    const client = async (c: number) => {
      while (!stop) {
        const id = `load-${c}-${n++}`;
        try {
          const res = await request(`${app.url}/predict/intent`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-request-id': id },
            body: JSON.stringify({ query: `where is my card number ${n}` }),
          });
          await res.body.text();
          answered.set(id, res.statusCode);
        } catch {
          // Refused or reset once the server closes: not answered, so not expected in the log.
          if (stop) return;
          await sleep(5);
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, c) => client(c));
    await sleep(300);
    app.proc.kill('SIGTERM');
    const code = await app.exited;
    stop = true;
    await Promise.all(clients);
    const slowRes = await slow;

    expect(code).toBe(0);
    expect(slowRes.responses[0]?.status).toBe(200);
    // Answered while draining: the connection closes with it, so the drain need not wait for it.
    expect(slowRes.responses[0]?.headers['connection']).toBe('close');
    answered.set('slow-body', 200);
    // Requests Fastify turned away while closing (503, before any hook) are not access-logged.
    const served = [...answered].filter(([, status]) => status === 200);
    expect(served.length).toBeGreaterThan(20);
    const logged = accessLog(app);
    const missing = served.filter(([id]) => logged.get(id) !== 200).map(([id]) => id);
    expect(missing).toEqual([]);
    // The drain's last words come after the lines of the requests it waited for.
    const bye = app.lines.findIndex((l) => l.includes('drained; bye'));
    const slowLine = app.lines.findIndex((l) => l.includes('"request_id":"slow-body"'));
    expect(slowLine).toBeGreaterThan(-1);
    expect(bye).toBeGreaterThan(slowLine);
  });

  it('with ACCESS_LOG_SAMPLE, logs a sample of successes and every error', async () => {
    // A rate this small keeps no success in practice; a 422 is always logged.
    const app = await startApp('intent-classifier', { ACCESS_LOG_SAMPLE: '0.000001' });
    try {
      await ready(app);
      for (let i = 0; i < 30; i++) {
        expect((await http(`${app.url}/predict/intent`, { body: { query: 'my card' }, headers: { 'x-request-id': `ok-${i}` } })).status).toBe(200);
      }
      expect((await http(`${app.url}/predict/intent`, { body: { query: '' }, headers: { 'x-request-id': 'bad-1' } })).status).toBe(422);
    } finally {
      await app.stop();
    }
    expect([...accessLog(app)]).toEqual([['bad-1', 422]]);
  });

  it.each(['0', '1.5', 'all'])('refuses ACCESS_LOG_SAMPLE=%p at boot like any bad variable (exit 78, naming it)', async (value) => {
    const { code, output } = await runToExit('intent-classifier', { ACCESS_LOG_SAMPLE: value });
    expect(code).toBe(78);
    expect(output).toContain('"variable":"ACCESS_LOG_SAMPLE"');
  });
});
