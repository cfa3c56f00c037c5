import { Cluster } from 'ioredis';
import { checkFailover, runFailover, startFailoverStack, type FailoverStack, type TopologyUnderTest } from './support/redis-failover';
import { RedisClusterTopology } from './support/redis-topology';

/*
 * Acceptance (issue 14): the apps on a real Redis Cluster (three masters, one replica each,
 * cluster-node-timeout 1 s), REDIS_CLUSTER_NODES naming the seeds. Under load, the master holding
 * the hot rate-limit counter and the hot customer's profile is killed; see support/redis-failover.
 */
describe('the apps on a Redis Cluster, through a master failover', () => {
  let cluster: RedisClusterTopology | undefined;
  let stack: FailoverStack | undefined;
  let target: TopologyUnderTest;

  beforeAll(async () => {
    cluster = await RedisClusterTopology.start({ masters: 3, nodeTimeoutMs: 1000 });
    const c = cluster;
    target = {
      label: 'cluster',
      appEnv: { REDIS_CLUSTER_NODES: c.seedList },
      reader: () => {
        const r = new Cluster(c.nodes.filter((n) => n.alive).map((n) => ({ host: '127.0.0.1', port: n.port })), { maxRedirections: 32 });
        r.on('error', () => undefined);
        return r;
      },
      masterOf: (key) => c.masterOf(key),
      waitHealed: async (key) => c.waitHealed(await c.slotOf(key)),
    };
    stack = await startFailoverStack(target);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await cluster?.stop();
  }, 30_000);

  it('keeps answering within the Redis budget, never lets the hot key past its limit, keeps profiles exact, and heals by itself', async () => {
    if (!stack) throw new Error('stack not started');
    const { report, outcomes } = await runFailover(target, stack);
    console.log(`redis-cluster failover: ${JSON.stringify(report)}`);
    expect(report.newMasterPort).not.toBe(report.killedPort);
    await checkFailover(target, stack, report, outcomes);
  }, 120_000);
});
