import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseWrkOutput, runLoad, wrkOnPath, wrkScript } from './load';

/**
 * The wrk engine against a real node:http server: what the server receives is what the benchmark
 * generated (every body, in order, none twice), and what wrk reports adds up with it. Needs `wrk`
 * on PATH (`apt-get install wrk`; `.ci/run` installs it where it is missing).
 */

interface Received {
  bodies: string[];
  methods: Set<string>;
  headers: IncomingMessage['headers'][];
}

function startServer(status = 200): Promise<{ server: Server; url: string; received: Received }> {
  const received: Received = { bodies: [], methods: new Set(), headers: [] };
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.methods.add(req.method ?? '');
      if (received.headers.length < 5) received.headers.push(req.headers);
      if (body) received.bodies.push(body);
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received })),
  );
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('wrk load engine', () => {
  beforeAll(() => {
    if (!wrkOnPath()) throw new Error('wrk is not on PATH: apt-get install wrk (.ci/run installs it where it is missing)');
  });

  it('sends every generated body once, in order, and reports what the server saw', async () => {
    const { server, url, received } = await startServer();
    try {
      let i = 0;
      const events: string[] = [];
      const result = await runLoad(url, {
        engine: 'wrk',
        connections: 4,
        durationSec: 1,
        path: '/predict/intent',
        headers: { 'x-api-key': 'k-1' },
        body: () => JSON.stringify({ query: `query number ${i++}` }),
        itemsPerRequest: 2,
        onMeasureStart: () => events.push(`start with ${received.bodies.length} received`),
      });
      // The measured phase starts once wrk has formatted its requests, before any is sent.
      expect(events).toEqual(['start with 0 received']);
      expect(result.engine).toBe('wrk');
      expect(result.ok).toBeGreaterThan(50);
      expect(result.non2xx + result.errors + result.timeouts).toBe(0);
      // Sent but not counted: at most the requests in flight when wrk's clock stopped.
      expect(received.bodies.length).toBeGreaterThanOrEqual(result.ok);
      expect(received.bodies.length).toBeLessThanOrEqual(result.ok + 4);
      expect(new Set(received.bodies).size).toBe(received.bodies.length);
      // Handed out in order (the connections may deliver them out of order): a run of consecutive
      // bodies, from the first or the second (wrk formats one to check its script and never sends it).
      const numbers = received.bodies.map((b) => Number((JSON.parse(b) as { query: string }).query.split(' ').pop())).sort((a, b) => a - b);
      expect(numbers[0]).toBeLessThanOrEqual(1);
      expect(numbers.every((n, k) => k === 0 || n === numbers[k - 1] + 1)).toBe(true);
      expect(received.methods).toEqual(new Set(['POST']));
      expect(received.headers[0]['content-type']).toBe('application/json');
      expect(received.headers[0]['x-api-key']).toBe('k-1');
      expect(result.durationSec).toBeGreaterThan(0.9);
      expect(result.durationSec).toBeLessThan(1.5);
      expect(result.reqPerSec).toBeCloseTo(result.ok / result.durationSec, 6);
      expect(result.itemsPerSec).toBeCloseTo(result.reqPerSec * 2, 6);
      const l = result.latencyMs;
      expect(l.p50).toBeGreaterThan(0);
      expect(l.p50).toBeLessThanOrEqual(l.p90);
      expect(l.p90).toBeLessThanOrEqual(l.p99);
      expect(l.p99).toBeLessThanOrEqual(l.max);
    } finally {
      await close(server);
    }
  });

  it('keeps the warm-up and the measured pass on different bodies', async () => {
    const { server, url, received } = await startServer();
    try {
      let i = 0;
      let atStart = -1;
      const result = await runLoad(url, {
        engine: 'wrk',
        connections: 2,
        durationSec: 1,
        warmupSec: 1,
        path: '/x',
        body: () => JSON.stringify({ n: i++ }),
        onMeasureStart: () => (atStart = received.bodies.length),
      });
      expect(atStart).toBeGreaterThan(0); // the warm-up's requests arrived before the clock started
      expect(result.ok).toBeGreaterThan(0);
      expect(new Set(received.bodies).size).toBe(received.bodies.length);
    } finally {
      await close(server);
    }
  });

  it('counts non-2xx answers apart from successes', async () => {
    const { server, url } = await startServer(503);
    try {
      const result = await runLoad(url, { engine: 'wrk', connections: 2, durationSec: 1, path: '/health', method: 'GET' });
      expect(result.ok).toBe(0);
      expect(result.non2xx).toBeGreaterThan(0);
      expect(result.reqPerSec).toBe(0);
    } finally {
      await close(server);
    }
  });

  it('fails a run that would have sent a body twice', async () => {
    const { server, url } = await startServer();
    try {
      let i = 0;
      // 2 requests a second for 1 + 1 s: 4 bodies, far fewer than a second of load sends.
      await expect(
        runLoad(url, { engine: 'wrk', connections: 2, durationSec: 1, path: '/x', body: () => `{"n":${i++}}`, maxRequestsPerSec: 2 }),
      ).rejects.toThrow(/repeated/);
      expect(i).toBe(4);
      // A stateless target fed a cycled pool may get the same bodies again.
      const cycled = await runLoad(url, { engine: 'wrk', connections: 2, durationSec: 1, path: '/x', body: () => `{"n":${i++}}`, maxRequestsPerSec: 2, repeatBodies: true });
      expect(cycled.ok).toBeGreaterThan(4);
    } finally {
      await close(server);
    }
  });

  it('refuses a body that is not one line, before starting wrk', async () => {
    await expect(runLoad('http://127.0.0.1:9', { engine: 'wrk', connections: 1, durationSec: 1, path: '/x', body: () => '{\n}' })).rejects.toThrow(/one line/);
  });
});

describe('wrk script and output', () => {
  it('puts the method, path and headers into the script as Lua strings', () => {
    const script = wrkScript('/tmp/b.txt', 'POST', '/predict/intent', { 'content-type': 'application/json', 'x-api-key': 'a"b' });
    expect(script).toContain('local bodies_file = "/tmp/b.txt"');
    expect(script).toContain('local method, path, headers = "POST", "/predict/intent", { ["content-type"] = "application/json", ["x-api-key"] = "a\\"b" }');
    expect(wrkScript(undefined, 'GET', '/', {})).toContain('local bodies_file = nil');
  });

  it('reads the summary line among wrk’s own output', () => {
    const line =
      'WRK_RESULT {"requests":10,"durationUs":1000000,"status":1,"connect":0,"read":0,"write":0,"timeout":0,"meanUs":1500.5,"p50Us":1400,"p90Us":2000,"p99Us":3000,"maxUs":3100,"ranOut":0}';
    expect(parseWrkOutput(`Running 1s test @ http://x\n  1 threads and 2 connections\n${line}\n`)).toEqual({
      requests: 10,
      durationUs: 1_000_000,
      status: 1,
      connect: 0,
      read: 0,
      write: 0,
      timeout: 0,
      meanUs: 1500.5,
      p50Us: 1400,
      p90Us: 2000,
      p99Us: 3000,
      maxUs: 3100,
      ranOut: 0,
    });
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:9 Connection refused')).toThrow(/no result/);
  });
});
