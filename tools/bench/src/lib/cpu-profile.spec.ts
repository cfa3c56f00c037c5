import { inclusiveOf, packageOf, summariseProfile, type CpuProfile } from './cpu-profile';

/**
 * A profile of five nodes: root -> handler (app) -> logResponse (app) -> write (sonic-boom), and
 * root -> timer (sonic-boom), with (idle) beside them. Samples: idle 100 us, handler itself 40,
 * logResponse itself 10, write under logResponse 20, the timer 30.
 */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 3, 6] },
    { id: 2, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    { id: 3, callFrame: { functionName: 'handler', url: 'file:///srv/dist/apps/gateway/main.js', lineNumber: 9 }, children: [4] },
    { id: 4, callFrame: { functionName: 'logResponse', url: 'file:///srv/dist/apps/gateway/main.js', lineNumber: 99 }, children: [5] },
    { id: 5, callFrame: { functionName: 'write', url: 'file:///srv/node_modules/sonic-boom/index.js', lineNumber: 5 } },
    { id: 6, callFrame: { functionName: 'flush', url: 'file:///srv/node_modules/sonic-boom/index.js', lineNumber: 7 } },
  ],
  samples: [2, 3, 4, 5, 6, 2, 3],
  timeDeltas: [60, 20, 10, 20, 30, 40, 20],
};

describe('reading a CPU profile', () => {
  it('names packages from their paths', () => {
    expect(packageOf('file:///a/node_modules/@nestjs/core/x.js')).toBe('@nestjs/core');
    expect(packageOf('file:///a/node_modules/sonic-boom/index.js')).toBe('sonic-boom');
    expect(packageOf('node:fs')).toBe('node:fs');
    expect(packageOf('file:///srv/dist/apps/gateway/main.js')).toBe('main.js');
    expect(packageOf('')).toBe('(native)');
  });

  it('splits busy from idle time, self time by function and inclusive time by package', () => {
    const s = summariseProfile(profile);
    expect(s.totalUs).toBe(200);
    expect(s.idleUs).toBe(100);
    expect(s.functions.map((r) => [r.name, r.us])).toEqual([
      ['handler main.js:10', 40],
      ['flush sonic-boom:8', 30],
      ['write sonic-boom:6', 20],
      ['logResponse main.js:100', 10],
    ]);
    // The write under logResponse counts for both packages on its stack.
    expect(s.packages.map((r) => [r.name, r.us, r.share])).toEqual([
      ['main.js', 70, 0.7],
      ['sonic-boom', 50, 0.5],
    ]);
  });

  it('counts the inclusive time of named functions and packages, and of any of them once', () => {
    expect(inclusiveOf(profile, ['logResponse', 'sonic-boom', 'nothing']).map((r) => [r.name, r.us, r.share])).toEqual([
      ['logResponse', 30, 0.3],
      ['sonic-boom', 50, 0.5],
      ['nothing', 0, 0],
      // logResponse's own 10, the write under it (once, though both names match) and the timer.
      ['any of them', 60, 0.6],
    ]);
  });
});
