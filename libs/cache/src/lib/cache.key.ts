import { hash } from 'node:crypto';
import { CacheArgumentError } from './cache.errors';

/**
 * Canonical JSON text of `value`: object keys sorted (by UTF-16 code units) at every depth, no
 * whitespace, so two inputs that are equal as data give the same text whatever their key order.
 *
 * Follows `JSON.stringify` (honours `toJSON`, drops `undefined`/function properties, writes
 * `undefined` array items as `null`), with these differences so that distinct data never share a
 * text: typed arrays are written as plain number arrays, and non-finite numbers, bigints, symbols,
 * functions or `undefined` at the top level, Map, Set, ArrayBuffer, DataView and cycles are refused with a CacheArgumentError.
 */
export function canonicalJson(value: unknown): string {
  const out = write(value, new Set(), '$');
  if (out === undefined) {
    throw new CacheArgumentError(`$ cannot be canonicalised: ${typeof value}`);
  }
  return out;
}

/**
 * The cache key of a prediction: the sha256 hex digest of the canonical JSON of
 * `[model, version, input]`. Only the data's structure is normalised here; making equivalent
 * inputs equal (trimming, casing, number precision, defaults) is the caller's job.
 */
export function predictionKey(
  model: string,
  version: string,
  input: unknown,
): string {
  if (typeof model !== 'string' || model === '') {
    throw new CacheArgumentError('model must be a non-empty string');
  }
  if (typeof version !== 'string' || version === '') {
    throw new CacheArgumentError('version must be a non-empty string');
  }
  // One-shot hashing (strings are hashed as UTF-8): half the cost of createHash on this hot path.
  return hash('sha256', canonicalJson([model, version, input]), 'hex');
}

// Returns undefined for values JSON leaves out of objects (undefined, functions, symbols).
function write(
  value: unknown,
  seen: Set<object>,
  path: string,
): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) {
        throw new CacheArgumentError(`${path} is not a finite number`);
      }
      return JSON.stringify(value);
    case 'bigint':
      throw new CacheArgumentError(`${path} is a bigint`);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const obj = value as object;
  const withToJson = obj as { toJSON?: unknown };
  if (typeof withToJson.toJSON === 'function') {
    return write((withToJson.toJSON as () => unknown)(), seen, path);
  }
  if (
    obj instanceof Map ||
    obj instanceof Set ||
    obj instanceof ArrayBuffer ||
    obj instanceof DataView
  ) {
    // JSON writes these as {} whatever they hold, which would merge distinct inputs.
    throw new CacheArgumentError(`${path} is a ${obj.constructor.name}`);
  }
  if (seen.has(obj)) throw new CacheArgumentError(`${path} is a cycle`);
  seen.add(obj);
  try {
    if (ArrayBuffer.isView(obj)) {
      const items = Array.from(obj as unknown as ArrayLike<number | bigint>);
      return `[${items.map((item, i) => write(item, seen, `${path}[${i}]`)).join(',')}]`;
    }
    if (Array.isArray(obj)) {
      const items = obj.map(
        (item, i) => write(item, seen, `${path}[${i}]`) ?? 'null',
      );
      return `[${items.join(',')}]`;
    }
    const record = obj as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const text = write(record[key], seen, `${path}.${key}`);
      if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(obj);
  }
}
