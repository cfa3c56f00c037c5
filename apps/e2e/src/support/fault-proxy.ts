import { createServer, connect, type Server, type Socket } from 'node:net';

export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'delay'; ms: number }
  /** Accept the connection, read the request, never answer. */
  | { kind: 'hang' }
  /** Forward the upstream's response headers, then stall the body forever. */
  | { kind: 'hang-after-headers' }
  /** Reset the connection as soon as the request arrives. */
  | { kind: 'reset' };

/**
 * A TCP proxy in front of a real upstream process, for fault injection in end-to-end tests.
 * Change `mode` at any time; it applies to new connections and to data still flowing.
 */
export class FaultProxy {
  mode: FaultMode = { kind: 'pass' };
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((client) => this.handle(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  /** Drops every open connection (the pool must reconnect). */
  dropAll() {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async stop() {
    this.dropAll();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private handle(client: Socket) {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => undefined);
    const upstream = connect(this.targetPort, this.targetHost);
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('data', (chunk) => {
      const mode = this.mode;
      if (mode.kind === 'reset') {
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      if (mode.kind === 'hang') return;
      if (mode.kind === 'delay') setTimeout(() => upstream.write(chunk), mode.ms);
      else upstream.write(chunk);
    });
    let headersSeen = false;
    upstream.on('data', (chunk) => {
      if (this.mode.kind === 'hang-after-headers') {
        if (headersSeen) return;
        const text = chunk.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (end >= 0) {
          headersSeen = true;
          client.write(chunk.subarray(0, end + 4));
        } else client.write(chunk);
        return;
      }
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
  }
}
