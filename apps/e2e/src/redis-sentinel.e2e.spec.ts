import { Redis } from 'ioredis';
import { checkFailover, runFailover, startFailoverStack, type FailoverStack, type TopologyUnderTest } from './support/redis-failover';
import { RedisSentinelTopology } from './support/redis-topology';

/*
 * Acceptance (issue 14): the apps on a real Sentinel group (one master, one replica, three
 * sentinels, down-after 600 ms), REDIS_SENTINELS + REDIS_SENTINEL_NAME naming it. Under load the
 * master is killed; see support/redis-failover.
 */
describe('the apps on Redis Sentinel, through a master failover', () => {
  let sentinel: RedisSentinelTopology | undefined;
  let stack: FailoverStack | undefined;
  let target: TopologyUnderTest;

  beforeAll(async () => {
    sentinel = await RedisSentinelTopology.start({ sentinels: 3, downAfterMs: 600, failoverTimeoutMs: 3000 });
    const s = sentinel;
    target = {
      label: 'sentinel',
      appEnv: { REDIS_SENTINELS: s.sentinelList, REDIS_SENTINEL_NAME: s.name },
      reader: () => {
        const r = new Redis({ sentinels: s.sentinels.filter((x) => x.alive).map((x) => ({ host: '127.0.0.1', port: x.port })), name: s.name });
        r.on('error', () => undefined);
        return r;
      },
      masterOf: () => s.master(),
      waitHealed: () => s.waitFailedOver(),
    };
    stack = await startFailoverStack(target);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await sentinel?.stop();
  }, 30_000);

  it('keeps answering within the Redis budget, never lets the hot key past its limit, keeps profiles exact, and heals by itself', async () => {
    if (!stack) throw new Error('stack not started');
    const { report, outcomes } = await runFailover(target, stack);
    console.log(`redis-sentinel failover: ${JSON.stringify(report)}`);
    expect(report.newMasterPort).not.toBe(report.killedPort);
    await checkFailover(target, stack, report, outcomes);
  }, 120_000);
});
