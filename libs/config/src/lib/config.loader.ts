import { z } from 'zod';
import { ConfigError } from './config.errors';
import type { Env, EnvOf, EnvShape } from './config.types';

/**
 * Reads and validates a configuration slice from the environment, once. The first invalid
 * variable throws a {@link ConfigError} naming it; apps let that stop the process at boot.
 */
export function loadEnv<S extends EnvShape>(shape: S, env: Env = process.env): EnvOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(shape)) {
    const raw = env[name];
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const shown = raw === undefined ? 'unset' : JSON.stringify(raw.length > 80 ? raw.slice(0, 80) + '…' : raw);
      throw new ConfigError(name, `${issue?.message ?? 'is invalid'} (got ${shown})`);
    }
    out[name] = parsed.data;
  }
  return out as EnvOf<S>;
}

/** Runs a loader and, on a configuration error, prints it and exits with status 78 (EX_CONFIG). */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: e.message, variable: e.variable })}\n`);
      process.exit(78);
    }
    throw e;
  }
}

export { z };
