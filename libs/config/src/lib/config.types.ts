import { z } from 'zod';

/** A slice of configuration: environment variable name -> zod schema for it. */
export type EnvShape = Record<string, z.ZodType>;
export type EnvOf<S extends EnvShape> = { [K in keyof S]: z.output<S[K]> };
export type Env = Record<string, string | undefined>;
