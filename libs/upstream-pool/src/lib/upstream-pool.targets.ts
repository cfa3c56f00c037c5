import { isIP } from 'node:net';

/** One configured upstream URL: where to connect and what to ask DNS for. */
export interface Target {
  /** The origin as configured (`http://intent:3001`), the endpoint's URL when it is not resolved. */
  origin: string;
  protocol: 'http:' | 'https:';
  /** Without IPv6 brackets. */
  hostname: string;
  port: string;
  /** The `Host` header every endpoint of this target is sent (`intent:3001`). */
  host: string;
  /** A name (not an IP literal): its addresses may be looked up and become endpoints. */
  resolvable: boolean;
}

/** An address to connect to, and the target it came from. */
export interface EndpointAddress {
  /** `http://10.0.0.7:3001`, `http://[::1]:3001` or, unresolved, the target's origin. */
  url: string;
  /** The `Host` header to send (the configured host, whatever address it resolved to). */
  host: string;
}

const defaultPort = (protocol: string) => (protocol === 'https:' ? '443' : '80');

/**
 * Parses a comma-separated list of http(s) origins (`INTENT_CLASSIFIER_URL`); a trailing slash is
 * allowed, a path is not. Duplicates are dropped.
 * Throws an Error naming the bad item.
 */
export function parseTargets(list: string): Target[] {
  const items = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new Error('must name at least one http(s) URL');
  const seen = new Set<string>();
  const out: Target[] = [];
  for (const item of items) {
    let u: URL;
    try {
      u = new URL(item);
    } catch {
      throw new Error(`"${item}" is not an http(s) URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`"${item}" is not an http(s) URL`);
    // Calls send absolute paths: a prefix would be silently dropped, so it is refused.
    if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username) throw new Error(`"${item}" must be scheme, host and port only`);
    if (seen.has(u.origin)) continue;
    seen.add(u.origin);
    const hostname = u.hostname.replace(/^\[|\]$/g, '');
    out.push({
      origin: u.origin,
      protocol: u.protocol,
      hostname,
      port: u.port || defaultPort(u.protocol),
      host: u.host,
      resolvable: isIP(hostname) === 0,
    });
  }
  return out;
}

/** The endpoint URL of one resolved address of a target. */
export function addressUrl(target: Target, address: string): string {
  const h = isIP(address) === 6 ? `[${address}]` : address;
  return `${target.protocol}//${h}:${target.port}`;
}

/** The endpoint a target stands for without resolution: its own origin, resolved by each connection. */
export function unresolved(target: Target): EndpointAddress {
  return { url: target.origin, host: target.host };
}
