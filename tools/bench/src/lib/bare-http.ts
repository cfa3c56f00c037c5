/**
 * The plumbing the bare baseline servers share: JSON replies, reading a bounded body, and serving
 * until SIGTERM/SIGINT (or until the benchmark that started us goes away). Kept minimal on purpose:
 * these servers are the "least code that can serve the model" the apps are measured against.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The request body as text; rejects once it exceeds `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Listens on 127.0.0.1:`port`, prints `<name> listening on http://127.0.0.1:<port>` (what the
 * benchmark waits for), and on SIGTERM/SIGINT — or when stdin ends, with `exitWithStdin` — closes
 * the server, runs `release` and exits 0.
 */
export function serveUntilStopped(server: Server, options: { name: string; port: number; exitWithStdin: boolean; release: () => Promise<void> }): void {
  // Longer than any client's idle gap between warm-up and measurement.
  server.keepAliveTimeout = 65_000;
  server.listen(options.port, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ msg: `${options.name} listening on http://127.0.0.1:${port}`, pid: process.pid })}\n`);
  });
  const shutdown = () => {
    server.close();
    server.closeAllConnections();
    void options.release().finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // A benchmark that started us keeps our stdin open; when it dies, stdin ends and so do we.
  if (options.exitWithStdin) {
    process.stdin.on('end', shutdown);
    process.stdin.resume();
  }
}

/**
 * The simplest micro-batching, shared by the bare servers: the window opens when a request waits
 * in an empty queue; the queue's head goes to `run` once `maxBatch` wait or `maxDelayMs` has
 * passed; runs never overlap. An item for which `runsAlone` holds (a whole batch request) is run
 * by itself as soon as it reaches the head. Returns `enqueue`.
 */
export function microBatcher<P>(options: { maxBatch: number; maxDelayMs: number; runsAlone?: (p: P) => boolean; run: (group: P[]) => Promise<void> }): (p: P) => void {
  const { maxBatch, maxDelayMs, run } = options;
  const alone = options.runsAlone ?? (() => false);
  const queue: P[] = [];
  let windowOpenedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  function schedule(): void {
    if (running || queue.length === 0) return;
    const waited = performance.now() - windowOpenedAt;
    if (alone(queue[0]) || queue.length >= maxBatch || waited >= maxDelayMs) {
      void flush();
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        void flush();
      }, maxDelayMs - waited);
    }
  }

  async function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (running || queue.length === 0) return;
    running = true;
    let take = 1;
    if (!alone(queue[0])) while (take < queue.length && take < maxBatch && !alone(queue[take])) take++;
    const group = queue.splice(0, take);
    // What is still queued has waited since (at the latest) now.
    windowOpenedAt = performance.now();
    await run(group);
    running = false;
    schedule();
  }

  return (p) => {
    if (queue.length === 0) windowOpenedAt = performance.now();
    queue.push(p);
    schedule();
  };
}

/** The command-line options every bare server takes (parseArgs), as launchBareServer passes them. */
export const BARE_SERVER_OPTIONS = {
  model: { type: 'string' },
  'max-batch': { type: 'string', default: '32' },
  'max-delay-ms': { type: 'string', default: '1' },
  port: { type: 'string', default: process.env['PORT'] ?? '0' },
  'exit-with-stdin': { type: 'boolean', default: false },
} as const;

/**
 * The routes both anomaly baselines serve: `GET /health/ready`, `GET /stats`, and
 * `POST /predict/anomaly` (`/batch`), whose body `prepare` turns into work for `enqueue` or into an
 * error message answered with `invalidStatus`.
 */
export function anomalyServer<W>(options: {
  stats: { requests: number };
  prepare: (body: string, batch: boolean) => W | string;
  invalidStatus: number;
  enqueue: (work: W & { batch: boolean; res: ServerResponse }) => void;
}): Server {
  const { stats, prepare, invalidStatus, enqueue } = options;
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health/ready') return send(res, 200, '{"status":"ok"}');
    if (req.method === 'GET' && req.url === '/stats') return send(res, 200, JSON.stringify(stats));
    const batch = req.url === '/predict/anomaly/batch';
    if (req.method !== 'POST' || (!batch && req.url !== '/predict/anomaly')) return send(res, 404, '{"error":"not found"}');
    readBody(req, batch ? 1_048_576 : 65_536).then(
      (body) => {
        const prepared = prepare(body, batch);
        if (typeof prepared === 'string') return send(res, invalidStatus, JSON.stringify({ error: prepared }));
        stats.requests++;
        enqueue({ ...prepared, batch, res });
      },
      () => send(res, 413, '{"error":"body too large"}'),
    );
  });
}
