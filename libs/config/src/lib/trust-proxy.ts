import { isIP } from 'node:net';
import { ConfigError } from './config.errors';

/**
 * TRUST_PROXY: unset = trust no proxy (client IP is the socket's), a hop count (`1`), or a
 * comma-separated list of IPs/CIDRs whose X-Forwarded-For is believed.
 */
export function parseTrustProxy(value: string | undefined): false | number | string[] {
  if (value === undefined || value.trim() === '') return false;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const parts = v.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of parts) {
    const [addr, bits, extra] = p.split('/');
    const family = isIP(addr);
    const maxBits = family === 6 ? 128 : 32;
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits);
    if (!family || !bitsOk || extra !== undefined) {
      throw new ConfigError('TRUST_PROXY', `must be a hop count or a list of IPs/CIDRs (bad entry ${JSON.stringify(p)})`);
    }
  }
  return parts;
}
