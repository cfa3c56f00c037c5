import { isIP } from 'node:net';
import { ConfigError } from './config.errors';

/**
 * TRUST_PROXY: unset = trust no proxy (client IP is the socket's), or a comma-separated list of
 * IPs/CIDRs whose X-Forwarded-For is believed. A bare hop count is refused: it trusts whoever
 * connects, so any client could claim any address (Fastify 5.12 ignores hop counts for that reason).
 */
export function parseTrustProxy(value: string | undefined): false | string[] {
  if (value === undefined || value.trim() === '') return false;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    throw new ConfigError('TRUST_PROXY', `a hop count (${v}) trusts any client's X-Forwarded-For: name the proxies' IPs or CIDRs instead`);
  }
  const parts = v.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of parts) {
    const [addr, bits, extra] = p.split('/');
    const family = isIP(addr);
    const maxBits = family === 6 ? 128 : 32;
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits);
    if (!family || !bitsOk || extra !== undefined) {
      throw new ConfigError('TRUST_PROXY', `must be a list of IPs/CIDRs (bad entry ${JSON.stringify(p)})`);
    }
  }
  return parts;
}
