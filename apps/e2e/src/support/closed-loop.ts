import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LoadResult {
  /** Status code -> count. */
  statuses: Record<number, number>;
  /** Client-observed latency of every answered request, ms, sorted. */
  latencies: number[];
  /** Requests whose answer never came (socket closed or the run ended first). */
  unanswered: number;
  /** Bodies of answers that were neither 200 nor 503, for the failure message. */
  unexpected: string[];
  /** 503 answers that did not say they were shed (problem type `overloaded` with Retry-After). */
  unmarked503: number;
  /** A few bodies of each non-200 status, for diagnosis. */
  samples: Record<number, string[]>;
  /** The five slowest answers: when they were sent (ms into the run), how long they took, status. */
  slowest: { sentAtMs: number; ms: number; status: number }[];
}

export const percentile = (sorted: number[], p: number) =>
  sorted.length
    ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
    : NaN;

/** The first whole response (by Content-Length) at the start of `buf`, and what follows it; undefined until it has all arrived. */
function takeResponse(
  buf: Buffer,
): { head: string; body: string; rest: Buffer } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1');
  const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
  if (buf.length < end + 4 + length) return undefined;
  return {
    head,
    body: buf.subarray(end + 4, end + 4 + length).toString('utf8'),
    rest: buf.subarray(end + 4 + length),
  };
}

/** Sends `GET /health/live` on the socket and resolves once its whole answer has arrived. */
function primed(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!takeResponse(buf)) return;
      socket.off('data', onData);
      socket.off('error', reject);
      resolve();
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write('GET /health/live HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
  });
}

/**
 * A closed-loop load of `connections` keep-alive sockets, all opened (connected, and each one's
 * first probe answered) before the clock starts, because connection set-up on these VMs shows as
 * false multi-second tails. Each
 * socket sends one request, waits for its answer, and sends the next, for `durationMs`. Requests
 * are written by hand and answers parsed by Content-Length, so the measure is the server's and not
 * a client library's queue.
 */
export async function closedLoop(opts: {
  port: number;
  connections: number;
  durationMs: number;
  /** The i-th request's path, headers and body. */
  request: (i: number) => {
    path: string;
    headers: Record<string, string>;
    body: string;
  };
  /** After a 503, wait this long before the next request on that socket (default 0: at once). */
  backoffOn503Ms?: number;
  /** Count only answers to requests sent at least this long after the start (default 0: all). */
  measureAfterMs?: number;
}): Promise<LoadResult> {
  const sockets = await Promise.all(
    Array.from(
      { length: opts.connections },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect({ port: opts.port, host: '127.0.0.1' });
          s.setNoDelay(true);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
    ),
  );
  // Connected is not yet accepted: the server may still have the connection in its accept queue.
  // One probe answered on every socket proves each one is open at both ends before the clock starts.
  await Promise.all(sockets.map((socket) => primed(socket)));
  const result: LoadResult = {
    statuses: {},
    latencies: [],
    unanswered: 0,
    unexpected: [],
    unmarked503: 0,
    slowest: [],
    samples: {},
  };
  let next = 0;
  const startAt = performance.now();
  const endAt = startAt + opts.durationMs;

  const loops = sockets.map(
    (socket) =>
      new Promise<void>((done) => {
        let buf: Buffer = Buffer.alloc(0);
        let sentAt = 0;
        let waiting = false;
        const send = () => {
          if (performance.now() >= endAt || socket.destroyed) return finish();
          const { path, headers, body } = opts.request(next++);
          const head = Object.entries({
            host: '127.0.0.1',
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            ...headers,
          })
            .map(([k, v]) => `${k}: ${v}`)
            .join('\r\n');
          sentAt = performance.now();
          waiting = true;
          socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n\r\n${body}`);
        };
        const finish = () => {
          if (waiting) result.unanswered++;
          waiting = false;
          socket.destroy();
          done();
        };
        socket.on('data', (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          for (;;) {
            const response = takeResponse(buf);
            if (!response) return;
            const { head, body } = response;
            buf = response.rest;
            const status = Number(head.slice(9, 12));
            waiting = false;
            if (sentAt - startAt >= (opts.measureAfterMs ?? 0))
              record(status, head, body);
            if (/\r\nconnection:\s*close/i.test(head)) return finish();
            if (status === 503 && opts.backoffOn503Ms)
              setTimeout(send, opts.backoffOn503Ms);
            else send();
          }
        });
        const record = (status: number, head: string, body: string) => {
          result.statuses[status] = (result.statuses[status] ?? 0) + 1;
          const ms = performance.now() - sentAt;
          result.latencies.push(ms);
          if (result.slowest.length < 5 || ms > result.slowest[4].ms) {
            result.slowest = [
              ...result.slowest,
              {
                sentAtMs: Math.round(sentAt - startAt),
                ms: Math.round(ms),
                status,
              },
            ]
              .sort((a, b) => b.ms - a.ms)
              .slice(0, 5);
          }
          if (
            status === 503 &&
            !(
              /\r\nretry-after:/i.test(head) &&
              body.includes('urn:ml-services:problem:overloaded')
            )
          )
            result.unmarked503++;
          if (status !== 200 && (result.samples[status] ??= []).length < 3)
            result.samples[status].push(body.slice(0, 200));
          if (status !== 200 && status !== 503 && result.unexpected.length < 5)
            result.unexpected.push(`${status} ${body.slice(0, 300)}`);
        };
        socket.on('close', finish);
        socket.on('error', () => undefined);
        send();
      }),
  );
  await Promise.all(loops);
  result.latencies.sort((a, b) => a - b);
  return result;
}
