import { ValidationFailedError } from '@ml/errors';
import { IntentBatchDto, IntentQueryDto } from './intent.dto';
import { TransactionDto } from './transaction.dto';
import { MAX_VALIDATION_DEPTH, validateBody } from './validation';

/** `{ [key]: [[[...]]] }` nested `depth` arrays deep, built without recursion. */
function nested(key: string, depth: number): Record<string, unknown> {
  let inner: unknown = 'x';
  for (let i = 0; i < depth; i++) inner = [inner];
  return { [key]: inner };
}

const errorOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected validateBody to throw');
};

describe('validateBody on deeply nested input built in code (no parser in front)', () => {
  it.each([
    ['query', IntentQueryDto],
    ['queries', IntentBatchDto],
    ['merchant_location', TransactionDto],
    ['constructor', IntentQueryDto],
  ] as const)('answers a 100,000-deep %s with a validation error naming the field, not a RangeError', (key, dto) => {
    const err = errorOf(() => validateBody(dto as new () => object, nested(key, 100_000)));
    expect(err).toBeInstanceOf(ValidationFailedError);
    expect((err as ValidationFailedError).errors).toEqual([{ field: key, message: `nested deeper than ${MAX_VALIDATION_DEPTH} levels` }]);
  });

  it('counts the onInvalid metric once', () => {
    const onInvalid = jest.fn();
    expect(() => validateBody(IntentQueryDto, nested('query', 5000), onInvalid)).toThrow(ValidationFailedError);
    expect(onInvalid).toHaveBeenCalledTimes(1);
  });

  it('still words ordinary schema errors for bodies within the limit', () => {
    const err = errorOf(() => validateBody(IntentQueryDto, nested('query', MAX_VALIDATION_DEPTH - 1))) as ValidationFailedError;
    expect(err).toBeInstanceOf(ValidationFailedError);
    expect(err.errors?.[0].field).toBe('query');
    expect(err.errors?.[0].message).not.toContain('nested deeper');
  });
});
