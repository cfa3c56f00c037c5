import { UpstreamPool, type PoolEvent, type PoolOptions, type Resolver } from './upstream-pool';
import { parseTargets } from './upstream-pool.targets';
import { systemResolver } from './upstream-pool.dns';

const A = 'http://127.0.0.1:4001';
const B = 'http://127.0.0.1:4002';
const C = 'http://127.0.0.1:4003';

/** A random source that plays back `values` in order, then repeats the last. */
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
};

function pool(urls: string[], over: Partial<PoolOptions> = {}) {
  let now = 1000;
  const clock = { now: () => now };
  const events: PoolEvent[] = [];
  const p = new UpstreamPool({
    name: 'intent-classifier',
    targets: parseTargets(urls.join(',')),
    ejectAfterFailures: 3,
    ejectAfterFailedPolls: 1,
    readmitAfterPolls: 2,
    clock,
    ...over,
  });
  p.on((e) => events.push(e));
  return { p, events, advance: (ms: number) => (now += ms) };
}

const state = (p: UpstreamPool, url: string) => p.endpoints().find((e) => e.url === url);
const fail = (p: UpstreamPool, url: string, times: number) => {
  for (let i = 0; i < times; i++) {
    const ep = { url, host: '' };
    p.acquire(ep);
    p.release(ep, 'failure');
  }
};

describe('parseTargets', () => {
  it('takes one URL or a comma-separated list, keeping origins and dropping duplicates', () => {
    expect(parseTargets('http://127.0.0.1:3001').map((t) => t.origin)).toEqual(['http://127.0.0.1:3001']);
    expect(parseTargets(' http://a:1/ , https://b , http://a:1,').map((t) => [t.origin, t.host, t.port, t.resolvable])).toEqual([
      ['http://a:1', 'a:1', '1', true],
      ['https://b', 'b', '443', true],
    ]);
    const [v6] = parseTargets('http://[::1]:3001');
    expect([v6.hostname, v6.resolvable, v6.host]).toEqual(['::1', false, '[::1]:3001']);
    expect(parseTargets('http://10.0.0.1')[0]).toMatchObject({ port: '80', resolvable: false });
  });

  it('refuses an empty list and anything not http(s), naming the item', () => {
    expect(() => parseTargets(' , ')).toThrow('at least one');
    expect(() => parseTargets('http://a:1,ftp://b')).toThrow('"ftp://b" is not an http(s) URL');
    expect(() => parseTargets('nope')).toThrow('"nope" is not an http(s) URL');
    expect(() => parseTargets('http://a:1/v2')).toThrow('"http://a:1/v2" must be scheme, host and port only');
    expect(() => parseTargets('http://u:p@a:1')).toThrow('must be scheme, host and port only');
  });
});

describe('UpstreamPool: selection', () => {
  it('with one endpoint always picks it, admitted or not', () => {
    const { p } = pool([A]);
    expect(p.pick()?.url).toBe(A);
    fail(p, A, 3);
    expect(state(p, A)?.state).toBe('ejected');
    expect(p.pick()?.url).toBe(A);
    expect(p.pick(new Set([A]))?.url).toBe(A);
  });

  it('picks the less busy of two distinct random choices', () => {
    // random 0 -> index 0 (A); second draw 0 among the other two -> B.
    const { p } = pool([A, B, C], { random: sequence(0, 0, 0, 0, 0.99, 0.99) });
    p.acquire({ url: A, host: '' });
    expect(p.pick()?.url).toBe(B);
    // Equal load: the first choice wins.
    const { p: q } = pool([A, B], { random: sequence(0.99, 0) });
    expect(q.pick()?.url).toBe(B);
  });

  it('never draws the same endpoint twice in one choice', () => {
    // i = floor(0.5 * 2) = 1 (B); j = floor(0.5 * 1) = 0 -> A, the other one.
    const { p } = pool([A, B], { random: () => 0.5 });
    p.acquire({ url: B, host: '' });
    expect(p.pick()?.url).toBe(A);
  });

  it('spreads load by pending attempts: a busy endpoint gets less', () => {
    const { p } = pool([A, B, C], { random: sequence(...Array.from({ length: 600 }, (_, i) => ((i * 7919) % 1000) / 1000)) });
    for (let i = 0; i < 5; i++) p.acquire({ url: A, host: '' });
    const counts: Record<string, number> = { [A]: 0, [B]: 0, [C]: 0 };
    for (let i = 0; i < 300; i++) counts[p.pick()?.url ?? '']++;
    expect(counts[A]).toBeLessThan(counts[B]);
    expect(counts[A]).toBeLessThan(counts[C]);
  });

  it('skips endpoints the call already tried while others are admitted', () => {
    const { p } = pool([A, B, C], { random: () => 0 });
    expect(p.pick(new Set([A]))?.url).toBe(B);
    expect(p.pick(new Set([A, B]))?.url).toBe(C);
    // All tried: any admitted endpoint again rather than none.
    expect(p.pick(new Set([A, B, C]))?.url).toBe(A);
  });

  it('prefers an admitted endpoint; with none admitted ("panic") it picks among all', () => {
    const { p } = pool([A, B], { random: () => 0 });
    fail(p, A, 3);
    expect(p.pick()?.url).toBe(B);
    fail(p, B, 3);
    expect(p.admittedCount).toBe(0);
    expect(p.pick()?.url).toBe(A);
    expect(p.pick(new Set([A]))?.url).toBe(B);
  });

  it('hasAlternative says whether another admitted, untried endpoint is left', () => {
    const { p } = pool([A, B]);
    expect(p.hasAlternative({ url: A, host: '' })).toBe(true);
    expect(p.hasAlternative({ url: A, host: '' }, new Set([B]))).toBe(false);
    fail(p, B, 3);
    expect(p.hasAlternative({ url: A, host: '' })).toBe(false);
    expect(p.hasAlternative({ url: B, host: '' })).toBe(true);
  });
});

describe('UpstreamPool: ejection and re-admission', () => {
  it('ejects after N consecutive failures; a success in between resets the count; neutral outcomes do not count', () => {
    const { p, events, advance } = pool([A, B]);
    const a = { url: A, host: '' };
    fail(p, A, 2);
    p.acquire(a);
    p.release(a, 'success');
    fail(p, A, 2);
    p.acquire(a);
    p.release(a, 'neutral');
    expect(state(p, A)).toMatchObject({ state: 'up', consecutiveFailures: 2, failures: 4, requests: 6, pending: 0 });
    advance(500);
    fail(p, A, 1);
    expect(state(p, A)).toMatchObject({ state: 'ejected', reason: 'failures', ejections: 1, sinceMs: 1500 });
    expect(events.filter((e) => e.type === 'ejected')).toEqual([{ type: 'ejected', endpoint: A, reason: 'failures' }]);
    // More failures while ejected eject nothing more.
    fail(p, A, 5);
    expect(state(p, A)?.ejections).toBe(1);
  });

  it('ejects on a failed readiness poll and re-admits after M consecutive good polls', () => {
    const { p, events } = pool([A, B]);
    p.reportPoll(A, true);
    expect(state(p, A)).toMatchObject({ state: 'up', ready: true });
    p.reportPoll(A, false);
    expect(state(p, A)).toMatchObject({ state: 'ejected', reason: 'not_ready', ready: false });
    p.reportPoll(A, true);
    p.reportPoll(A, false);
    p.reportPoll(A, true);
    expect(state(p, A)?.state).toBe('ejected');
    p.reportPoll(A, true);
    expect(state(p, A)).toMatchObject({ state: 'up', ready: true, consecutiveFailures: 0 });
    expect(events.map((e) => e.type)).toEqual(['ejected', 'readmitted']);
  });

  it('needs K consecutive failed polls when so configured', () => {
    const { p } = pool([A, B], { ejectAfterFailedPolls: 3 });
    p.reportPoll(A, false);
    p.reportPoll(A, false);
    p.reportPoll(A, true);
    p.reportPoll(A, false);
    p.reportPoll(A, false);
    expect(state(p, A)?.state).toBe('up');
    p.reportPoll(A, false);
    expect(state(p, A)?.state).toBe('ejected');
  });

  it('an endpoint ejected for failures comes back after good polls, with its failure count cleared', () => {
    const { p } = pool([A, B]);
    fail(p, A, 3);
    p.reportPoll(A, true);
    expect(state(p, A)?.state).toBe('ejected');
    p.reportPoll(A, true);
    expect(state(p, A)).toMatchObject({ state: 'up', consecutiveFailures: 0 });
    // Counting starts again from zero.
    fail(p, A, 2);
    expect(state(p, A)?.state).toBe('up');
  });

  it('good polls from before an ejection do not count towards re-admission', () => {
    const { p } = pool([A, B]);
    p.reportPoll(A, true);
    fail(p, A, 3);
    p.reportPoll(A, true);
    expect(state(p, A)?.state).toBe('ejected');
  });

  it('in panic, a success re-admits an endpoint ejected for failures, not one that said it was not ready', () => {
    const { p } = pool([A, B]);
    fail(p, A, 3);
    p.reportPoll(B, false);
    const a = { url: A, host: '' };
    p.acquire(a);
    p.release(a, 'success');
    expect(state(p, A)?.state).toBe('up');
    const b = { url: B, host: '' };
    p.acquire(b);
    p.release(b, 'success');
    expect(state(p, B)).toMatchObject({ state: 'ejected', reason: 'not_ready' });
  });

  it('ignores reports about endpoints it does not know', () => {
    const { p } = pool([A]);
    p.reportPoll(B, false);
    p.acquire({ url: B, host: '' });
    p.release({ url: B, host: '' }, 'failure');
    expect(p.endpoints().map((e) => e.url)).toEqual([A]);
  });

  it('refuses nonsense thresholds and an empty target list', () => {
    expect(() => pool([A], { ejectAfterFailures: 0 })).toThrow('ejectAfterFailures');
    expect(() => pool([A], { readmitAfterPolls: 1.5 })).toThrow('readmitAfterPolls');
    expect(() => new UpstreamPool({ name: 'x', targets: [], ejectAfterFailures: 1, ejectAfterFailedPolls: 1, readmitAfterPolls: 1 })).toThrow('no upstream URL');
  });
});

describe('UpstreamPool: DNS', () => {
  /** A resolver whose answers the test sets per name; a name mapped to an Error fails. */
  function fakeDns(initial: Record<string, string[] | Error>) {
    const table = { ...initial };
    let lookups = 0;
    const resolver: Resolver = async (name) => {
      lookups++;
      const v = table[name];
      if (v === undefined) throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      if (v instanceof Error) throw v;
      return v;
    };
    return { resolver, table, lookups: () => lookups };
  }

  it('stands for the configured URL until the first lookup, then for each address, with the configured Host', async () => {
    const dns = fakeDns({ intent: ['10.0.0.1', '10.0.0.2', 'fd00::3'] });
    const { p, events } = pool(['http://intent:3001'], { resolver: dns.resolver });
    expect(p.endpoints().map((e) => e.url)).toEqual(['http://intent:3001']);
    await p.refresh();
    expect(p.endpoints().map((e) => [e.url, e.host])).toEqual([
      ['http://10.0.0.1:3001', 'intent:3001'],
      ['http://10.0.0.2:3001', 'intent:3001'],
      ['http://[fd00::3]:3001', 'intent:3001'],
    ]);
    expect(events).toContainEqual({ type: 'removed', endpoint: 'http://intent:3001' });
  });

  it('adds new addresses, removes those no longer returned and keeps the state of those that stay', async () => {
    const dns = fakeDns({ intent: ['10.0.0.1', '10.0.0.2'] });
    const { p, events } = pool(['http://intent:3001'], { resolver: dns.resolver });
    await p.refresh();
    fail(p, 'http://10.0.0.1:3001', 3);
    dns.table['intent'] = ['10.0.0.1', '10.0.0.3'];
    events.length = 0;
    await p.refresh();
    expect(events).toEqual([
      { type: 'added', endpoint: 'http://10.0.0.3:3001' },
      { type: 'removed', endpoint: 'http://10.0.0.2:3001' },
    ]);
    expect(p.endpoints().map((e) => [e.url, e.state])).toEqual([
      ['http://10.0.0.1:3001', 'ejected'],
      ['http://10.0.0.3:3001', 'up'],
    ]);
    // A removed endpoint's late report changes nothing.
    p.release({ url: 'http://10.0.0.2:3001', host: '' }, 'failure');
    expect(p.endpoints()).toHaveLength(2);
  });

  it('keeps what it had when a lookup fails or answers nothing, and drops duplicate addresses', async () => {
    const dns = fakeDns({ intent: ['10.0.0.1', '10.0.0.1'] });
    const { p, events } = pool(['http://intent:3001'], { resolver: dns.resolver });
    await p.refresh();
    expect(p.endpoints().map((e) => e.url)).toEqual(['http://10.0.0.1:3001']);
    events.length = 0;
    dns.table['intent'] = new Error('SERVFAIL');
    await p.refresh();
    dns.table['intent'] = [];
    await p.refresh();
    expect(events).toEqual([]);
    expect(p.endpoints().map((e) => e.url)).toEqual(['http://10.0.0.1:3001']);
  });

  it('a name that never resolves stays its configured URL', async () => {
    const dns = fakeDns({});
    const { p } = pool(['http://nowhere:3001'], { resolver: dns.resolver });
    await p.refresh();
    expect(p.endpoints().map((e) => e.url)).toEqual(['http://nowhere:3001']);
  });

  it('looks up names only, mixes them with literal addresses, and keeps an address two targets share', async () => {
    const dns = fakeDns({ a: ['10.0.0.1'], b: ['10.0.0.1', '10.0.0.2'] });
    const { p } = pool(['http://a:3001', 'http://b:3001', 'http://10.9.9.9:3001'], { resolver: dns.resolver });
    await p.refresh();
    expect(dns.lookups()).toBe(2);
    expect(p.endpoints().map((e) => e.url).sort()).toEqual(['http://10.0.0.1:3001', 'http://10.0.0.2:3001', 'http://10.9.9.9:3001']);
    dns.table['b'] = ['10.0.0.2'];
    await p.refresh();
    // a still returns 10.0.0.1: it stays.
    expect(p.endpoints().map((e) => e.url).sort()).toEqual(['http://10.0.0.1:3001', 'http://10.0.0.2:3001', 'http://10.9.9.9:3001']);
  });

  it('concurrent refreshes share one lookup per name', async () => {
    const dns = fakeDns({ intent: ['10.0.0.1'] });
    const { p } = pool(['http://intent:3001'], { resolver: dns.resolver });
    await Promise.all([p.refresh(), p.refresh(), p.refresh()]);
    expect(dns.lookups()).toBe(1);
    await p.refresh();
    expect(dns.lookups()).toBe(2);
  });

  it('without a resolver nothing is looked up', async () => {
    const { p } = pool(['http://intent:3001']);
    await p.refresh();
    expect(p.endpoints().map((e) => e.url)).toEqual(['http://intent:3001']);
  });

  it('the system resolver finds localhost on the loopback', async () => {
    const addresses = await systemResolver('localhost');
    expect(addresses.length).toBeGreaterThan(0);
    for (const a of addresses) expect(['127.0.0.1', '::1']).toContain(a);
    const { p } = pool(['http://localhost:3001'], { resolver: systemResolver });
    await p.refresh();
    expect(p.endpoints().map((e) => e.url)).toEqual(addresses.map((a) => (a === '::1' ? 'http://[::1]:3001' : `http://${a}:3001`)));
    expect(p.endpoints()[0].host).toBe('localhost:3001');
  });

  it('unsubscribed listeners hear nothing more', async () => {
    const dns = fakeDns({ intent: ['10.0.0.1'] });
    const { p } = pool(['http://intent:3001'], { resolver: dns.resolver });
    const heard: PoolEvent[] = [];
    const off = p.on((e) => heard.push(e));
    off();
    await p.refresh();
    expect(heard).toEqual([]);
  });
});
