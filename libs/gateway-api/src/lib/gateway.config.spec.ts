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

describe('loadGatewaySettings: upstream endpoints', () => {
  it('takes one URL as before, or a comma-separated list', () => {
    expect(loadGatewaySettings({}).upstreams['intent-classifier'].map((t) => t.origin)).toEqual(['http://127.0.0.1:3001']);
    const s = loadGatewaySettings({ INTENT_CLASSIFIER_URL: 'http://127.0.0.1:3001/, http://127.0.0.1:3003', ANOMALY_DETECTOR_URL: 'http://anomaly:3002' });
    expect(s.upstreams['intent-classifier'].map((t) => t.origin)).toEqual(['http://127.0.0.1:3001', 'http://127.0.0.1:3003']);
    expect(s.upstreams['anomaly-detector'][0]).toMatchObject({ hostname: 'anomaly', resolvable: true });
    expect(s.endpoints).toEqual({ dnsRefreshMs: 5000, ejectAfterFailures: 3, ejectAfterFailedPolls: 1, readmitAfterPolls: 2 });
  });

  it.each([
    ['INTENT_CLASSIFIER_URL', 'http://a:1,ftp://b'],
    ['ANOMALY_DETECTOR_URL', 'http://a:1/v2'],
    ['INTENT_CLASSIFIER_URL', ' , '],
    ['UPSTREAM_EJECT_FAILURES', '0'],
    ['UPSTREAM_DNS_REFRESH_MS', '-1'],
  ])('refuses %s=%s, naming the variable', (variable, value) => {
    let error: unknown;
    try {
      loadGatewaySettings({ [variable]: value });
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error) && error.variable).toBe(variable);
  });
});
