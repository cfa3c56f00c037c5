import { ValidationFailedError, type FieldError } from '@ml/errors';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { acceptanceCheck } from './fast-acceptance';

/**
 * Deepest nesting of arrays/objects a body may have here. Our DTOs are at most 4 deep, so a deeper
 * body is a schema violation whatever it holds; the bound is what keeps the recursive walks below
 * (ours, class-transformer's, class-validator's) off the end of the stack for callers that did not
 * come through the HTTP parser, which has its own, configurable limit (JSON_MAX_DEPTH).
 */
export const MAX_VALIDATION_DEPTH = 32;

/** Messages of per-item failures are encoded as `[i] message` lines by the item constraints. */
const ITEM_PREFIX = /^\[(\d+)\] (.*)$/;

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const field = parent ? (/^\d+$/.test(e.property) ? `${parent}[${e.property}]` : `${parent}.${e.property}`) : e.property;
    for (const message of Object.values(e.constraints ?? {})) {
      const lines = message.split('\n');
      for (const line of lines) {
        const m = ITEM_PREFIX.exec(line);
        out.push(m ? { field: `${field}[${m[1]}]`, message: m[2] } : { field, message: line });
      }
    }
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

/**
 * Validates a parsed JSON body against a DTO class: unknown fields are errors, nothing is coerced,
 * and every problem is reported with its field path (`queries[3]`, `transactions[0].amount`).
 * Returns the validated data or throws {@link ValidationFailedError} (422), after calling
 * `onInvalid` (a metric, say) when given.
 *
 * A body the DTO's compiled check accepts (see fast-acceptance.ts: class-validator's own
 * constraints without its general executor) is returned as it was parsed: it holds exactly the
 * DTO's fields. Anything else goes through class-transformer and class-validator, which decide
 * and word the errors.
 */
export function validateBody<T extends object>(dto: ClassConstructor<T>, body: unknown, onInvalid?: () => void): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    onInvalid?.();
    throw new ValidationFailedError([{ field: '', message: 'the body must be a JSON object' }]);
  }
  if (acceptanceCheck(dto)?.(body as Record<string, unknown>)) return body as T;
  const fields = generalProblems(dto, body);
  if (fields.length) {
    onInvalid?.();
    throw new ValidationFailedError(fields);
  }
  return plainToInstance(dto, body, { enableImplicitConversion: false, exposeDefaultValues: false });
}

/** Every problem class-validator finds in `body`, sorted by field path; [] when there is none. */
export function generalProblems(dto: ClassConstructor<object>, body: object): FieldError[] {
  const deep = branchDeeperThan(body, MAX_VALIDATION_DEPTH);
  if (deep !== undefined) return [{ field: deep, message: `nested deeper than ${MAX_VALIDATION_DEPTH} levels` }];
  // class-transformer drops a `constructor` key before class-validator could see it, and throws on
  // some of them ({"constructor": [1]}): report those keys and validate the rest without them.
  const poisoned = constructorKeys(body, '');
  const instance = plainToInstance(dto, poisoned.length ? withoutConstructorKeys(body) : body, { enableImplicitConversion: false, exposeDefaultValues: false });
  const errors = validateSync(instance as object, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
  });
  return [...flatten(errors), ...poisoned].sort((a, b) => a.field.localeCompare(b.field, 'en', { numeric: true }));
}

/**
 * The top-level field under which `value` nests arrays/objects deeper than `max` ('' for the body
 * itself), or undefined. Walks with its own stack and stops past `max`, so any depth is safe.
 */
function branchDeeperThan(value: object, max: number): string | undefined {
  const stack: Array<{ value: unknown; depth: number; top: string }> = [{ value, depth: 1, top: '' }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (next.value === null || typeof next.value !== 'object') continue;
    if (next.depth > max) return next.top;
    for (const [key, child] of Object.entries(next.value)) {
      stack.push({ value: child, depth: next.depth + 1, top: next.depth === 1 ? key : next.top });
    }
  }
  return undefined;
}

// Both walks below recurse, bounded by MAX_VALIDATION_DEPTH (checked first).
function withoutConstructorKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(withoutConstructorKeys);
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'constructor').map(([k, v]) => [k, withoutConstructorKeys(v)]));
}

function constructorKeys(value: unknown, path: string): FieldError[] {
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => constructorKeys(v, `${path}[${i}]`));
  const out: FieldError[] = [];
  for (const [key, v] of Object.entries(value)) {
    const field = path ? `${path}.${key}` : key;
    if (key === 'constructor') out.push({ field, message: 'property constructor should not exist' });
    else out.push(...constructorKeys(v, field));
  }
  return out;
}
