import { ConfigError, isConfigError } from './config.errors';
import { loadEnv, loadOrExit } from './config.loader';
import { bool, bytes, fraction, httpUrl, int, number, oneOf, optionalString, parseBytes, port, string } from './config.vars';
import { loadServiceConfig } from './service.config';
import { parseTrustProxy } from './trust-proxy';

const fail = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (e) {
    if (isConfigError(e)) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('loadServiceConfig', () => {
  it('has the documented defaults', () => {
    expect(loadServiceConfig(3001, {})).toEqual({
      port: 3001,
      host: '127.0.0.1',
      production: false,
      bodyLimit: 64 * 1024,
      batchBodyLimit: 1024 * 1024,
      requestTimeoutMs: 2000,
      shutdownDrainMs: 10_000,
      shutdownDelayMs: 0,
      logLevel: 'info',
      logRequestContext: false,
      accessLogSample: 1,
      trustProxy: false,
      jsonMaxDepth: 32,
      http: { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 65_000 },
    });
  });

  it('reads every variable', () => {
    const c = loadServiceConfig(1, {
      PORT: '8080',
      HOST: '0.0.0.0',
      NODE_ENV: 'production',
      BODY_LIMIT: '16kb',
      BATCH_BODY_LIMIT: '2mb',
      REQUEST_TIMEOUT_MS: '500',
      SHUTDOWN_DRAIN_MS: '3000',
      SHUTDOWN_DELAY_MS: '100',
      LOG_LEVEL: 'WARN',
      LOG_REQUEST_CONTEXT: 'true',
      ACCESS_LOG_SAMPLE: '0.05',
      TRUST_PROXY: '10.0.0.0/8, 192.168.1.1',
      JSON_MAX_DEPTH: '8',
      HTTP_REQUEST_TIMEOUT_MS: '5000',
      HTTP_HEADERS_TIMEOUT_MS: '2000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '15000',
    });
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      production: true,
      bodyLimit: 16384,
      batchBodyLimit: 2 * 1024 * 1024,
      requestTimeoutMs: 500,
      shutdownDrainMs: 3000,
      shutdownDelayMs: 100,
      logLevel: 'warn',
      logRequestContext: true,
      accessLogSample: 0.05,
      trustProxy: ['10.0.0.0/8', '192.168.1.1'],
      jsonMaxDepth: 8,
      http: { requestTimeoutMs: 5000, headersTimeoutMs: 2000, keepAliveTimeoutMs: 15_000 },
    });
  });

  it('refuses server timeouts Node would refuse, naming the variable', () => {
    expect(fail(() => loadServiceConfig(1, { HTTP_REQUEST_TIMEOUT_MS: '5000', HTTP_HEADERS_TIMEOUT_MS: '6000' })).variable).toBe('HTTP_HEADERS_TIMEOUT_MS');
    expect(fail(() => loadServiceConfig(1, { HTTP_REQUEST_TIMEOUT_MS: '0' })).variable).toBe('HTTP_REQUEST_TIMEOUT_MS');
    expect(fail(() => loadServiceConfig(1, { JSON_MAX_DEPTH: '1' })).variable).toBe('JSON_MAX_DEPTH');
    expect(fail(() => loadServiceConfig(1, { JSON_MAX_DEPTH: '100000' })).variable).toBe('JSON_MAX_DEPTH');
  });

  it('never lets the batch limit fall below the single-request limit', () => {
    expect(loadServiceConfig(1, { BODY_LIMIT: '2mb', BATCH_BODY_LIMIT: '1mb' }).batchBodyLimit).toBe(2 * 1024 * 1024);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['BODY_LIMIT', 'big'],
    ['BODY_LIMIT', '0'],
    ['REQUEST_TIMEOUT_MS', '0'],
    ['LOG_LEVEL', 'verbose'],
    ['TRUST_PROXY', 'everyone'],
    ['ACCESS_LOG_SAMPLE', '0'],
    ['ACCESS_LOG_SAMPLE', '1.5'],
    ['ACCESS_LOG_SAMPLE', '-0.1'],
    ['ACCESS_LOG_SAMPLE', '10%'],
  ])('names %s when it is %p', (variable, value) => {
    const e = fail(() => loadServiceConfig(3000, { [variable]: value }));
    expect(e.variable).toBe(variable);
    expect(e.message).toContain(`Invalid configuration: ${variable}`);
    expect(e.message).toContain(JSON.stringify(value));
    expect(e.code).toBe('CONFIG_INVALID');
  });

  it('treats empty strings as unset', () => {
    expect(loadServiceConfig(3000, { PORT: '', LOG_LEVEL: '  ' })).toMatchObject({ port: 3000, logLevel: 'info' });
  });
});

describe('variable schemas', () => {
  const one = <T>(schema: Parameters<typeof loadEnv>[0][string], raw: string | undefined) =>
    loadEnv({ X: schema }, { X: raw }).X as T;

  it('parses ports, integers and numbers within bounds', () => {
    expect(one(port(5), undefined)).toBe(5);
    expect(one(port(5), '0')).toBe(0);
    expect(one(int(1, { min: 1, max: 10 }), '10')).toBe(10);
    expect(() => one(int(1, { min: 1, max: 10 }), '11')).toThrow('between 1 and 10');
    expect(one(number(0.5, { min: 0, max: 1 }), '0.25')).toBe(0.25);
    expect(() => one(number(0.5, { min: 0, max: 1 }), 'x')).toThrow(ConfigError);
  });

  it('parses fractions in (0, 1]', () => {
    expect(one(fraction(1), undefined)).toBe(1);
    expect(one(fraction(1), '0.001')).toBe(0.001);
    expect(one(fraction(1), '1')).toBe(1);
    expect(() => one(fraction(1), '0')).toThrow('greater than 0 and at most 1');
    expect(() => one(fraction(1), 'half')).toThrow('greater than 0 and at most 1');
  });
  it('parses http(s) URLs and drops trailing slashes', () => {
    expect(one(httpUrl('http://a:1'), undefined)).toBe('http://a:1');
    expect(one(httpUrl('http://a:1'), 'https://b.example/x/')).toBe('https://b.example/x');
    expect(() => one(httpUrl('http://a:1'), 'ftp://b')).toThrow('must be an http(s) URL');
    expect(() => one(httpUrl('http://a:1'), 'nope')).toThrow('must be an http(s) URL');
  });

  it('parses booleans, enums and strings', () => {
    expect(one(bool(false), 'YES')).toBe(true);
    expect(one(bool(true), 'off')).toBe(false);
    expect(one(bool(true), undefined)).toBe(true);
    expect(() => one(bool(true), 'maybe')).toThrow('must be true or false');
    expect(one(oneOf(['a', 'b'] as const, 'a'), 'B')).toBe('b');
    expect(one(string('d'), undefined)).toBe('d');
    expect(one(optionalString(), undefined)).toBeUndefined();
    expect(one(bytes('1kb'), undefined)).toBe(1024);
  });

  it('parses sizes', () => {
    expect(parseBytes('65536')).toBe(65536);
    expect(parseBytes('64KB')).toBe(65536);
    expect(parseBytes('1.5mb')).toBe(1572864);
    expect(parseBytes('1gb')).toBe(1024 ** 3);
    expect(parseBytes('0')).toBeUndefined();
    expect(parseBytes('-1kb')).toBeUndefined();
    expect(parseBytes('lots')).toBeUndefined();
  });

  it('shortens huge values in messages', () => {
    const e = fail(() => loadEnv({ X: port(1) }, { X: 'y'.repeat(500) }));
    expect(e.message.length).toBeLessThan(200);
  });
});

describe('parseTrustProxy', () => {
  it('trusts nobody by default', () => {
    expect(parseTrustProxy(undefined)).toBe(false);
    expect(parseTrustProxy(' ')).toBe(false);
  });
  it('accepts IP/CIDR lists (v4 and v6)', () => {
    expect(parseTrustProxy('127.0.0.1,::1,fd00::/8')).toEqual(['127.0.0.1', '::1', 'fd00::/8']);
  });
  it('refuses a bare hop count: it would believe any client', () => {
    expect(fail(() => parseTrustProxy('2')).message).toMatch(/hop count/);
  });
  it.each(['10.0.0.0/33', '::1/129', 'proxy.local', '1.2.3.4/8/9', '10.0.0.0/x'])('rejects %p', (v) => {
    expect(fail(() => parseTrustProxy(v)).variable).toBe('TRUST_PROXY');
  });
});

describe('loadOrExit', () => {
  it('returns the loaded value', () => {
    expect(loadOrExit(() => 42)).toBe(42);
  });

  it('prints the variable and exits 78 on a ConfigError', () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    // With exit stubbed the loader goes on to rethrow; in a real process it never gets there.
    expect(() => loadOrExit(() => loadServiceConfig(1, { PORT: 'x' }))).toThrow(ConfigError);
    expect(exit).toHaveBeenCalledWith(78);
    expect(String(write.mock.calls[0][0])).toContain('"variable":"PORT"');
    exit.mockRestore();
    write.mockRestore();
  });

  it('rethrows other errors', () => {
    expect(() =>
      loadOrExit(() => {
        throw new TypeError('boom');
      }),
    ).toThrow(TypeError);
  });
});
