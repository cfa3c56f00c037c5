import { isConfigError } from '@ml/config';
import { loadRateLimitConfig } from './rate-limit.config';

describe('loadRateLimitConfig', () => {
  it('defaults to 100 requests per 60 s', () => {
    expect(loadRateLimitConfig({})).toEqual({ requests: 100, windowSeconds: 60 });
    expect(loadRateLimitConfig({ RATE_LIMIT_REQUESTS: ' ', RATE_LIMIT_WINDOW: '' })).toEqual({ requests: 100, windowSeconds: 60 });
  });

  it('reads both variables', () => {
    expect(loadRateLimitConfig({ RATE_LIMIT_REQUESTS: '250', RATE_LIMIT_WINDOW: '10' })).toEqual({ requests: 250, windowSeconds: 10 });
  });

  it.each([
    ['RATE_LIMIT_REQUESTS', '0'],
    ['RATE_LIMIT_REQUESTS', '1.5'],
    ['RATE_LIMIT_REQUESTS', 'many'],
    ['RATE_LIMIT_WINDOW', '0'],
    ['RATE_LIMIT_WINDOW', '86401'],
    ['RATE_LIMIT_WINDOW', '-5'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    let caught: unknown;
    try {
      loadRateLimitConfig({ [name]: value });
    } catch (e) {
      caught = e;
    }
    expect(isConfigError(caught)).toBe(true);
    expect((caught as { variable: string }).variable).toBe(name);
  });
});
