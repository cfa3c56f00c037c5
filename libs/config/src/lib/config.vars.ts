import { z } from 'zod';

/**
 * Schema builders for environment variables. Each accepts the raw string (or undefined when unset;
 * an empty string counts as unset) and yields a typed value or a message that names what is wrong.
 */
const unsetIfEmpty = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

export const port = (fallback: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: 'must be a port number (1-65535)' })
      .int('must be a port number (1-65535)')
      .min(0, 'must be a port number (1-65535)')
      .max(65535, 'must be a port number (1-65535)')
      .default(fallback),
  );

export const int = (fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: `must be an integer between ${min} and ${max}` })
      .int(`must be an integer between ${min} and ${max}`)
      .min(min, `must be an integer between ${min} and ${max}`)
      .max(max, `must be an integer between ${min} and ${max}`)
      .default(fallback),
  );

export const number = (fallback: number, { min = 0, max = Number.MAX_VALUE } = {}) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: `must be a number between ${min} and ${max}` })
      .min(min, `must be a number between ${min} and ${max}`)
      .max(max, `must be a number between ${min} and ${max}`)
      .default(fallback),
  );

/** A share in (0, 1]: a sampling rate, where 0 would mean "never" and is refused. */
export const fraction = (fallback: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: 'must be a number greater than 0 and at most 1' })
      .gt(0, 'must be a number greater than 0 and at most 1')
      .max(1, 'must be a number greater than 0 and at most 1')
      .default(fallback),
  );

export const httpUrl = (fallback: string) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .default(fallback)
      .refine((v) => {
        try {
          const u = new URL(v);
          return u.protocol === 'http:' || u.protocol === 'https:';
        } catch {
          return false;
        }
      }, 'must be an http(s) URL')
      .transform((v) => v.replace(/\/+$/, '')),
  );

export const optionalString = () =>
  z.preprocess(unsetIfEmpty, z.string().optional());

export const string = (fallback: string) => z.preprocess(unsetIfEmpty, z.string().default(fallback));

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
  z.preprocess(
    (v) => (typeof unsetIfEmpty(v) === 'string' ? (v as string).trim().toLowerCase() : undefined),
    z.enum(values, { error: `must be one of: ${values.join(', ')}` }).default(fallback as never),
  );

export const bool = (fallback: boolean) =>
  z.preprocess(
    (v) => {
      const s = unsetIfEmpty(v);
      if (s === undefined) return undefined;
      const t = String(s).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(t)) return true;
      if (['0', 'false', 'no', 'off'].includes(t)) return false;
      return s;
    },
    z.boolean({ error: 'must be true or false' }).default(fallback),
  );

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024, gb: 1024 * 1024 * 1024 };

/** Parses a size such as `64kb`, `1mb` or `65536` into bytes. */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(text);
  if (!m) return undefined;
  const value = Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]);
  return value > 0 ? value : undefined;
}

export const bytes = (fallback: string) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .default(fallback)
      .transform((v, ctx) => {
        const n = parseBytes(v);
        if (n === undefined) {
          ctx.addIssue({ code: 'custom', message: 'must be a size such as 65536, 64kb or 1mb' });
          return z.NEVER;
        }
        return n;
      }),
  );
