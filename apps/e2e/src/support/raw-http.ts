import { connect } from 'node:net';

/** One HTTP/1.x response parsed from the bytes a server wrote. */
export interface RawResponse {
  status: number;
  statusLine: string;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  text: string;
  /** The body parsed as JSON when it is JSON, else undefined. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface RawExchange {
  /** Every byte the server wrote. */
  data: Buffer;
  /** Every complete response found in `data`, in order (1xx interim responses included). */
  responses: RawResponse[];
  /** The server closed (or reset) the connection before our deadline. */
  closed: boolean;
  /** ms from connect until the server closed the connection (undefined when it did not). */
  closedAfterMs?: number;
  /** ms from connect until the first response byte arrived. */
  firstByteAfterMs?: number;
  /** Our deadline passed with the connection still open. */
  timedOut: boolean;
  /** A socket error we saw (EPIPE/ECONNRESET when the server hung up while we wrote). */
  error?: string;
}

export interface RawOptions {
  /** Stop waiting (and destroy the socket) after this long. Default 15 s. */
  timeoutMs?: number;
  /** Bytes written after `payload`, one piece every `intervalMs` (a slow client). */
  trickle?: Buffer | string;
  intervalMs?: number;
  /** Stop waiting as soon as this many complete responses have arrived (the socket is then destroyed). */
  stopAfterResponses?: number;
  /** Called on every chunk received. */
  onData?: (all: Buffer) => void;
  /**
   * Bytes written after `payload` in pieces, each once the previous one drained, after waiting
   * `pauseMs` first: a server that answers early (413 on a declared length) is heard before the
   * body goes out, and writing stops once a final response arrived. Without this a client that
   * writes megabytes into a closed connection gets EPIPE and loses the answer unread.
   */
  streamed?: Buffer;
  pauseMs?: number;
}

/**
 * Writes raw bytes to a server and collects whatever comes back until the server closes the
 * connection, `stopAfterResponses` responses arrived, or `timeoutMs` passes. Never throws for
 * network reasons: write errors after the server hung up are recorded, the bytes it wrote kept.
 */
export function rawExchange(port: number, payload: Buffer | string, opts: RawOptions = {}): Promise<RawExchange> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    let closed = false;
    let closedAfterMs: number | undefined;
    let firstByteAfterMs: number | undefined;
    let error: string | undefined;
    let finished = false;
    let trickleTimer: NodeJS.Timeout | undefined;
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const answered = () => parseResponses(Buffer.concat(chunks)).some((r) => r.status >= 200);
    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      if (trickleTimer) clearInterval(trickleTimer);
      socket.destroy();
      const data = Buffer.concat(chunks);
      resolve({ data, responses: parseResponses(data), closed, closedAfterMs, firstByteAfterMs, timedOut, error });
    };
    const deadline = setTimeout(() => finish(true), timeoutMs);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on('data', (d: Buffer) => {
      firstByteAfterMs ??= Date.now() - started;
      chunks.push(d);
      const all = Buffer.concat(chunks);
      opts.onData?.(all);
      if (opts.stopAfterResponses !== undefined) {
        const complete = parseResponses(all).filter((r) => r.status >= 200).length;
        if (complete >= opts.stopAfterResponses) finish(false);
      }
    });
    socket.on('close', () => {
      closed = true;
      closedAfterMs = Date.now() - started;
      finish(false);
    });
    socket.on('connect', () => {
      socket.write(payload, () => undefined);
      if (opts.streamed !== undefined) {
        const body = opts.streamed;
        let at = 0;
        const next = () => {
          if (finished || socket.destroyed || answered() || at >= body.length) return;
          const piece = body.subarray(at, at + 64 * 1024);
          at += piece.length;
          socket.write(piece, (err) => {
            if (!err) next();
          });
        };
        setTimeout(next, opts.pauseMs ?? 0);
      }
      if (opts.trickle !== undefined) {
        const rest = Buffer.from(opts.trickle);
        let i = 0;
        trickleTimer = setInterval(() => {
          if (i >= rest.length || socket.destroyed) {
            clearInterval(trickleTimer);
            return;
          }
          socket.write(rest.subarray(i, i + 1), () => undefined);
          i++;
        }, opts.intervalMs ?? 200);
      }
    });
  });
}

/** Parses as many complete HTTP/1.x responses as `data` holds (Content-Length, chunked, or to the end). */
export function parseResponses(data: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', at, 'latin1');
    if (headEnd < 0) break;
    const head = data.subarray(at, headEnd).toString('latin1');
    const [statusLine, ...headerLines] = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!m) break;
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (status < 200 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', p, 'latin1');
        if (lineEnd < 0) break;
        const size = parseInt(data.subarray(p, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) break;
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n\r\n', lineEnd, 'latin1');
          if (trailerEnd < 0) break;
          p = trailerEnd + 4;
          complete = true;
          break;
        }
        if (lineEnd + 2 + size + 2 > data.length) break;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      bodyStart = p;
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      if (bodyStart + len > data.length) break;
      body = data.subarray(bodyStart, bodyStart + len);
      bodyStart += len;
    } else {
      body = data.subarray(bodyStart);
      bodyStart = data.length;
    }
    const text = body.toString('utf8');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    out.push({ status, statusLine, headers, body, text, json });
    at = bodyStart;
  }
  return out;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Content-Type of the body; default application/json when there is a body. */
  contentType?: string | null;
}

/** Serialises a request with `Connection: close` and an exact Content-Length. */
export function buildRequest(req: RawRequest): Buffer {
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const lines = [`${req.method ?? (body ? 'POST' : 'GET')} ${req.path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(req.headers ?? {})) lines.push(`${k}: ${v}`);
  if (body) {
    if (req.contentType !== null) lines.push(`Content-Type: ${req.contentType ?? 'application/json'}`);
    lines.push(`Content-Length: ${body.length}`);
  }
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return body ? Buffer.concat([head, body]) : head;
}

/** One request on its own connection; resolves with the exchange and its first final response. */
export async function rawRequest(port: number, req: RawRequest, opts: RawOptions = {}): Promise<RawExchange & { res?: RawResponse }> {
  const whole = buildRequest(req);
  const bodyLength = req.body === undefined ? 0 : Buffer.byteLength(req.body);
  // Large bodies go out after the head, in pieces, so an early answer is heard (see `streamed`).
  const split = bodyLength > 256 * 1024 ? whole.length - bodyLength : whole.length;
  const ex = await rawExchange(port, whole.subarray(0, split), {
    stopAfterResponses: 1,
    ...(split < whole.length ? { streamed: whole.subarray(split), pauseMs: 300 } : {}),
    ...opts,
  });
  return { ...ex, res: ex.responses.find((r) => r.status >= 200) };
}
