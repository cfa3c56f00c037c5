import { ValidationFailedError, type FieldError } from '@ml/errors';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';

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
 * Returns the typed instance or throws {@link ValidationFailedError} (422), after calling
 * `onInvalid` (a metric, say) when given.
 */
export function validateBody<T extends object>(dto: ClassConstructor<T>, body: unknown, onInvalid?: () => void): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    onInvalid?.();
    throw new ValidationFailedError([{ field: '', message: 'the body must be a JSON object' }]);
  }
  const instance = plainToInstance(dto, body, { enableImplicitConversion: false, exposeDefaultValues: false });
  const errors = validateSync(instance as object, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
  });
  if (errors.length) {
    const fields = flatten(errors);
    fields.sort((a, b) => a.field.localeCompare(b.field, 'en', { numeric: true }));
    onInvalid?.();
    throw new ValidationFailedError(fields);
  }
  return instance;
}
