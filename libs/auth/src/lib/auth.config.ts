import { ConfigError, type Env } from '@ml/config';
import { hash } from 'node:crypto';

/** The development key accepted when no keys are configured outside production (documented in the README). */
export const DEV_API_KEY = 'ml-dev-key-do-not-use-in-production';

export const MODEL_SCOPES = ['intent-classifier', 'anomaly-detector'] as const;
export type ModelScope = (typeof MODEL_SCOPES)[number];

export interface ApiKeyEntry {
  name: string;
  /** SHA-256 of the secret, 32 bytes. */
  digest: Buffer;
  /** Models this key may call; empty = all. */
  scopes: ModelScope[];
}

export interface AuthConfig {
  keys: ApiKeyEntry[];
  /** True when running on the development key (a warning is logged at boot). */
  devKey: boolean;
  /** Whether GET /metrics needs a key. */
  metricsRequireKey: boolean;
}

// One-shot hashing: about half the cost of createHash().update().digest() per request.
export const sha256 = (s: string) => hash('sha256', s, 'buffer');

/**
 * `ML_API_KEYS` = comma-separated `name:sha256hex[:scope|scope]`. Without it the development key
 * is accepted, except with NODE_ENV=production, where the gateway refuses to start.
 */
export function loadAuthConfig(env: Env = process.env): AuthConfig {
  const raw = env['ML_API_KEYS']?.trim();
  const production = env['NODE_ENV'] === 'production';
  const metrics = (env['METRICS_REQUIRE_KEY'] ?? 'false').trim().toLowerCase();
  if (!['true', 'false', '1', '0', ''].includes(metrics)) throw new ConfigError('METRICS_REQUIRE_KEY', 'must be true or false');
  const metricsRequireKey = metrics === 'true' || metrics === '1';
  if (!raw) {
    if (production) throw new ConfigError('ML_API_KEYS', 'must be set when NODE_ENV=production (no development key in production)');
    return { keys: [{ name: 'development', digest: sha256(DEV_API_KEY), scopes: [] }], devKey: true, metricsRequireKey };
  }
  const names = new Set<string>();
  const keys = raw.split(',').map((entry, i) => {
    const parts = entry.trim().split(':');
    const [name, hex, scopeText] = parts;
    const where = `entry ${i + 1}`;
    if (parts.length < 2 || parts.length > 3) throw new ConfigError('ML_API_KEYS', `${where} must be name:sha256hex[:scope|scope]`);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new ConfigError('ML_API_KEYS', `${where} has an invalid name (letters, digits, . _ -)`);
    if (names.has(name)) throw new ConfigError('ML_API_KEYS', `${where} repeats the name "${name}"`);
    names.add(name);
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError('ML_API_KEYS', `${where} ("${name}") needs a 64-hex-digit SHA-256 digest`);
    const scopes = (scopeText ?? '').split('|').filter(Boolean);
    for (const s of scopes) {
      if (!(MODEL_SCOPES as readonly string[]).includes(s)) {
        throw new ConfigError('ML_API_KEYS', `${where} ("${name}") has unknown scope "${s}" (known: ${MODEL_SCOPES.join(', ')})`);
      }
    }
    return { name, digest: Buffer.from(hex, 'hex'), scopes: scopes as ModelScope[] };
  });
  return { keys, devKey: false, metricsRequireKey };
}
