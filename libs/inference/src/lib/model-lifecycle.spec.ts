import { loadInBackground, outcomeOf } from './model-lifecycle';

describe('outcomeOf', () => {
  it.each([
    [{ code: 'QUEUE_FULL' }, 'rejected'],
    [{ code: 'NOT_READY' }, 'rejected'],
    [{ code: 'DEADLINE_EXCEEDED' }, 'timeout'],
    [new Error('onnx failed'), 'error'],
    [undefined, 'error'],
  ])('%j -> %s', (e, outcome) => expect(outcomeOf(e)).toBe(outcome));
});

describe('loadInBackground', () => {
  it('resolves when the load succeeds and logs nothing', async () => {
    const logger = { error: jest.fn() };
    await loadInBackground('m@1', async () => undefined, logger, () => undefined);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('logs a failed load with the model and hands the error on', async () => {
    const errors: unknown[] = [];
    const failures: Error[] = [];
    await loadInBackground('m@1', () => Promise.reject(new Error('bad file')), { error: (x: unknown) => errors.push(x) }, (e) => failures.push(e));
    expect(errors).toEqual([{ msg: 'model m@1 failed to load: bad file' }]);
    expect(failures.map((e) => e.message)).toEqual(['bad file']);
  });
});
