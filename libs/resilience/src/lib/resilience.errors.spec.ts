import { BrokenCircuitError, TimeoutError, isBrokenCircuitError, isTimeoutError } from './resilience.errors';

describe('resilience errors', () => {
  it('BrokenCircuitError carries a stable code and a whole-second retryAfter of at least 1', () => {
    expect(new BrokenCircuitError('m', 1_001, 'open')).toMatchObject({
      code: 'BREAKER_OPEN',
      name: 'BrokenCircuitError',
      retryAfterSeconds: 2,
      retryAfterMs: 1_001,
    });
    expect(new BrokenCircuitError('m', 0, 'half-open').retryAfterSeconds).toBe(1);
    expect(new BrokenCircuitError('m', 3_000, 'open').retryAfterSeconds).toBe(3);
  });

  it('names the upstream for logs but not in the public detail', () => {
    const e = new BrokenCircuitError('model-secret-host', 500, 'open');
    expect(e.message).toContain('model-secret-host');
    expect(e.publicDetail).not.toContain('model-secret-host');
  });

  it('TimeoutError says which limit ran out', () => {
    const perTry = new TimeoutError(100, 'per-try');
    expect(perTry).toMatchObject({ code: 'DEADLINE_EXCEEDED', name: 'TimeoutError', kind: 'per-try', timeoutMs: 100 });
    expect(perTry.message).toMatch(/timed out after 100 ms/);
    expect(new TimeoutError(0, 'deadline').message).toMatch(/Deadline exceeded/);
  });

  it('guards recognise only their own class', () => {
    const broken = new BrokenCircuitError('m', 1, 'open');
    const timeout = new TimeoutError(1, 'per-try');
    expect(isBrokenCircuitError(broken)).toBe(true);
    expect(isBrokenCircuitError(timeout)).toBe(false);
    expect(isBrokenCircuitError({ code: 'BREAKER_OPEN' })).toBe(false);
    expect(isTimeoutError(timeout)).toBe(true);
    expect(isTimeoutError(new Error('x'))).toBe(false);
    expect(isTimeoutError(undefined)).toBe(false);
  });
});
