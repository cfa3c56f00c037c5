import { isConfigError } from '@ml/config';
import { loadGatewaySettings } from './gateway.config';

describe('loadGatewaySettings: CACHE_REDIS_URL', () => {
  it('is absent by default: the cache shares REDIS_URL', () => {
    expect(loadGatewaySettings({}).cache).toEqual({ maxSize: 1000, ttlMs: 3_600_000 });
  });

  it('takes a redis:// or rediss:// URL for a cache Redis of its own', () => {
    expect(loadGatewaySettings({ CACHE_REDIS_URL: 'redis://redis-cache:6379/0' }).cache.redisUrl).toBe('redis://redis-cache:6379/0');
    expect(loadGatewaySettings({ CACHE_REDIS_URL: 'rediss://:pw@cache.example:6380' }).cache.redisUrl).toBe('rediss://:pw@cache.example:6380');
  });

  it.each(['http://redis-cache:6379', 'redis-cache:6379', 'not a url'])('refuses %s, naming the variable', (value) => {
    let error: unknown;
    try {
      loadGatewaySettings({ CACHE_REDIS_URL: value });
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error) && error.variable).toBe('CACHE_REDIS_URL');
  });
});
