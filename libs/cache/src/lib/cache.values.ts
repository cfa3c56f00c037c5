import { CacheArgumentError } from './cache.errors';
import type { JsonValue } from './cache.types';

/** Checks a TTL and returns it as whole milliseconds (Redis PX takes integers). */
export function toTtlMs(ttlMs: number): number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new CacheArgumentError(
      `ttlMs must be a positive finite number, got ${String(ttlMs)}`,
    );
  }
  return Math.ceil(ttlMs);
}

/** JSON text of a value about to be stored; refuses what JSON cannot carry. */
export function serialise(value: JsonValue): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new CacheArgumentError(
      `value is not JSON-serialisable: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (text === undefined) {
    throw new CacheArgumentError(
      `value is not JSON-serialisable: ${typeof value}`,
    );
  }
  return text;
}

/** Parses stored text; `undefined` for text that is not JSON (treated as a miss). */
export function deserialise<T extends JsonValue>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
