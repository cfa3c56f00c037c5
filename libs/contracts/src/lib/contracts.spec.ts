import { isValidationFailedError } from '@ml/errors';
import { requestBudgetMs } from './deadline';
import { IntentBatchDto, IntentQueryDto } from './intent.dto';
import { validateBody } from './validation';

const errorsOf = (dto: new () => object, body: unknown) => {
  try {
    validateBody(dto, body);
  } catch (e) {
    if (isValidationFailedError(e)) return e.errors;
    throw e;
  }
  return undefined;
};

describe('IntentQueryDto', () => {
  it('accepts a query and keeps the text exactly as written', () => {
    const dto = validateBody(IntentQueryDto, { query: '  My card   is LOST!  ' });
    expect(dto).toEqual({ query: '  My card   is LOST!  ' });
    expect(dto.query).toBe('  My card   is LOST!  ');
  });

  it.each([
    [{}, 'query', 'must be a string'],
    [{ query: '' }, 'query', 'must not be empty or only whitespace'],
    [{ query: ' \n\t ' }, 'query', 'must not be empty or only whitespace'],
    [{ query: 42 }, 'query', 'must be a string'],
    [{ query: ['a'] }, 'query', 'must be a string'],
    [{ query: null }, 'query', 'must be a string'],
    [{ query: 'x'.repeat(1001) }, 'query', 'must be at most 1000 characters (got 1001)'],
  ])('rejects %j naming %s', (body, field, message) => {
    expect(errorsOf(IntentQueryDto, body)).toEqual([{ field, message }]);
  });

  it('measures the length after trimming', () => {
    expect(errorsOf(IntentQueryDto, { query: `  ${'x'.repeat(1000)}  ` })).toBeUndefined();
  });

  it('rejects extra fields by name', () => {
    expect(errorsOf(IntentQueryDto, { query: 'hi', admin: true })).toEqual([
      { field: 'admin', message: 'property admin should not exist' },
    ]);
  });

  // class-transformer silently drops a "constructor" key, and throws a TypeError on some values.
  it.each([['x'], [[1]], [{ prototype: {} }]])('rejects a "constructor" field as extra (value %j), at any depth', (value) => {
    expect(errorsOf(IntentQueryDto, JSON.parse(JSON.stringify({ query: 'hi', constructor: value })))).toEqual([
      { field: 'constructor', message: 'property constructor should not exist' },
    ]);
    expect(errorsOf(IntentBatchDto, { queries: ['a', ''], constructor: value })).toEqual([
      { field: 'constructor', message: 'property constructor should not exist' },
      { field: 'queries[1]', message: 'must not be empty or only whitespace' },
    ]);
  });

  it.each([null, [], 'text', 7])('rejects a body that is not an object: %j', (body) => {
    expect(errorsOf(IntentQueryDto, body)).toEqual([{ field: '', message: 'the body must be a JSON object' }]);
  });
});

describe('IntentBatchDto', () => {
  it('accepts 1..256 queries', () => {
    expect(validateBody(IntentBatchDto, { queries: ['a'] }).queries).toEqual(['a']);
    expect(validateBody(IntentBatchDto, { queries: Array(256).fill('q') }).queries).toHaveLength(256);
  });

  it('rejects the whole batch, naming every bad item by index', () => {
    expect(errorsOf(IntentBatchDto, { queries: ['fine', '', 3, 'ok', '   '] })).toEqual([
      { field: 'queries[1]', message: 'must not be empty or only whitespace' },
      { field: 'queries[2]', message: 'must be a string' },
      { field: 'queries[4]', message: 'must not be empty or only whitespace' },
    ]);
  });

  it.each([
    [{ queries: [] }, 'must hold at least 1 query'],
    [{ queries: Array(257).fill('q') }, 'must hold at most 256 queries'],
    [{ queries: 'one' }, 'must be an array of strings'],
  ])('rejects %#: %s', (body, message) => {
    expect(errorsOf(IntentBatchDto, body)).toContainEqual({ field: 'queries', message });
  });
});

describe('requestBudgetMs', () => {
  it.each([
    [undefined, 2000],
    ['500', 500],
    [' 750 ', 750],
    ['5000', 2000],
    ['0', 2000],
    ['-5', 2000],
    ['abc', 2000],
    ['1e3', 2000],
    [['300', '900'], 300],
  ])('%p with a 2000 ms default -> %i', (header, expected) => {
    expect(requestBudgetMs(header as string | undefined, 2000)).toBe(expected);
  });
});

describe('validateBody onInvalid', () => {
  it('is called once for an invalid body (field errors or not an object) and never for a valid one', () => {
    const calls: string[] = [];
    const onInvalid = () => calls.push('invalid');
    expect(validateBody(IntentQueryDto, { query: 'where is my card' }, onInvalid).query).toBe('where is my card');
    expect(calls).toHaveLength(0);
    expect(() => validateBody(IntentQueryDto, { query: '' }, onInvalid)).toThrow();
    expect(() => validateBody(IntentQueryDto, ['not', 'an', 'object'], onInvalid)).toThrow();
    expect(calls).toHaveLength(2);
  });
});
