/**
 * The plumbing the bare baseline servers share: JSON replies, reading a bounded body, and serving
 * until SIGTERM/SIGINT (or until the benchmark that started us goes away). Kept minimal on purpose:
 * these servers are the "least code that can serve the model" the apps are measured against.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

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
