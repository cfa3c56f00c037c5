import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/*
 * Real Redis topologies for tests, built from the machine's redis-server (7.x) on free ports:
 * a Redis Cluster (masters with one replica each, created with `redis-cli --cluster create`) and a
 * Sentinel group (one master, one replica, sentinels via `redis-server <conf> --sentinel`). Data and
 * configuration files live in a temp dir removed by `stop()`, which also kills every process (and
 * a process-exit hook does too, should a test run die before its afterAll).
 */

const HOST = '127.0.0.1';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** `n` distinct free ports. */
async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await sleep(everyMs);
  }
}

/** One redis-server process (data node or sentinel). */
export class RedisProcess {
  private exitedWith: string | undefined;
  private readonly exited: Promise<void>;
  private readonly output: string[] = [];

  constructor(
    readonly port: number,
    readonly role: string,
    readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.exitedWith = signal ?? String(code);
        resolve();
      }),
    );
    for (const s of [proc.stdout, proc.stderr]) s?.on('data', (d: Buffer) => this.output.push(d.toString()));
  }

  get alive(): boolean {
    return this.exitedWith === undefined;
  }

  /** The server's own log (for failure messages). */
  get log(): string {
    return this.output.join('');
  }

  /** SIGKILL, as a crash would: nothing is flushed, connections drop. Resolves once it is gone. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Sends one command on a short-lived connection. */
  async command(...args: (string | number)[]): Promise<unknown> {
    const c = new Redis({ host: HOST, port: this.port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 2000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return await c.call(String(args[0]), ...args.slice(1).map(String));
    } finally {
      c.disconnect();
    }
  }
}

/** Info field `name` of an `INFO` / `CLUSTER INFO` reply. */
export function infoField(text: unknown, name: string): string | undefined {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(String(text));
  return m?.[1].trim();
}

abstract class Topology {
  readonly dir: string;
  protected readonly procs: RedisProcess[] = [];
  private readonly onExit = () => {
    for (const p of this.procs) if (p.alive) p.proc.kill('SIGKILL');
  };

  protected constructor(label: string) {
    this.dir = mkdtempSync(join(tmpdir(), `ml-redis-${label}-`));
    process.once('exit', this.onExit);
  }

  protected spawnServer(port: number, role: string, args: string[]): RedisProcess {
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const p = new RedisProcess(port, role, proc);
    this.procs.push(p);
    return p;
  }

  protected nodeDir(port: number): string {
    const d = join(this.dir, String(port));
    mkdirSync(d, { recursive: true });
    return d;
  }

  protected static async answering(p: RedisProcess): Promise<void> {
    await waitFor(`redis-server (${p.role}) on port ${p.port}`, async () => {
      if (!p.alive) throw new Error(`exited:\n${p.log}`);
      return (await p.command('PING')) === 'PONG';
    });
  }

  /** Kills every process and removes the temp dir; safe to call twice and after a failed start. */
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill()));
    process.off('exit', this.onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ClusterOptions {
  masters?: number;
  /** cluster-node-timeout: how long a master may be unreachable before its replica takes over. */
  nodeTimeoutMs?: number;
}

/** A Redis Cluster: `masters` masters with one replica each. */
export class RedisClusterTopology extends Topology {
  private constructor(readonly nodes: RedisProcess[]) {
    super('cluster');
  }

  static async start({ masters = 3, nodeTimeoutMs = 1000 }: ClusterOptions = {}): Promise<RedisClusterTopology> {
    const t = new RedisClusterTopology([]);
    try {
      const ports = await freePorts(masters * 2);
      for (const port of ports) {
        t.nodes.push(
          t.spawnServer(port, 'cluster node', [
            '--port', String(port), '--bind', HOST, '--dir', t.nodeDir(port),
            '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeoutMs),
            // A replica takes over however long it was cut off (the test kills masters on purpose).
            '--cluster-replica-validity-factor', '0',
            '--save', '', '--appendonly', 'no', '--protected-mode', 'no',
          ]),
        );
      }
      await Promise.all(t.nodes.map((n) => Topology.answering(n)));
      await t.run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
      // Every node sees a whole cluster, and every replica has synced with its master.
      await waitFor('cluster state ok on every node', async () => {
        for (const n of t.nodes) if (infoField(await n.command('CLUSTER', 'INFO'), 'cluster_state') !== 'ok') return false;
        return true;
      });
      await waitFor('replicas in sync', async () => {
        let synced = 0;
        for (const n of t.nodes) {
          const info = await n.command('INFO', 'replication');
          if (infoField(info, 'role') === 'slave' && infoField(info, 'master_link_status') === 'up') synced++;
        }
        return synced === masters;
      });
      return t;
    } catch (error) {
      await t.stop();
      throw error;
    }
  }

  /** `REDIS_CLUSTER_NODES` for the apps. */
  get seedList(): string {
    return this.nodes.map((n) => `${HOST}:${n.port}`).join(',');
  }

  /** A node still running, to ask about the cluster. */
  private get anyLive(): RedisProcess {
    const n = this.nodes.find((x) => x.alive);
    if (!n) throw new Error('no cluster node is running');
    return n;
  }

  async slotOf(key: string): Promise<number> {
    return Number(await this.anyLive.command('CLUSTER', 'KEYSLOT', key));
  }

  /** The node serving `slot` as master now, as the live nodes agree. */
  async masterOfSlot(slot: number): Promise<RedisProcess> {
    const slots = (await this.anyLive.command('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`slot ${slot} is not served`);
    const port = Number(range[2][1]);
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`slot ${slot} is served by unknown port ${port}`);
    return node;
  }

  async masterOf(key: string): Promise<RedisProcess> {
    return this.masterOfSlot(await this.slotOf(key));
  }

  /** Resolves once every live node reports the cluster whole again and `slot` has a live master. */
  async waitHealed(slot: number, timeoutMs = 20_000): Promise<RedisProcess> {
    return waitFor(`slot ${slot} served by a live master`, async () => {
      for (const n of this.nodes.filter((x) => x.alive)) if (infoField(await n.command('CLUSTER', 'INFO'), 'cluster_state') !== 'ok') return undefined;
      const m = await this.masterOfSlot(slot);
      return m.alive ? m : undefined;
    }, timeoutMs);
  }

  private run(cmd: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
      p.once('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`));
      });
    });
  }
}

export interface SentinelOptions {
  sentinels?: number;
  /** Master group name. */
  name?: string;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

/** One master, one replica and `sentinels` sentinels (quorum: a majority). */
export class RedisSentinelTopology extends Topology {
  readonly data: RedisProcess[] = [];
  readonly sentinels: RedisProcess[] = [];

  private constructor(readonly name: string) {
    super('sentinel');
  }

  static async start({ sentinels = 3, name = 'mlmaster', downAfterMs = 600, failoverTimeoutMs = 3000 }: SentinelOptions = {}): Promise<RedisSentinelTopology> {
    const t = new RedisSentinelTopology(name);
    try {
      const [masterPort, replicaPort, ...sentinelPorts] = await freePorts(2 + sentinels);
      const common = ['--bind', HOST, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
      t.data.push(t.spawnServer(masterPort, 'master', ['--port', String(masterPort), '--dir', t.nodeDir(masterPort), ...common]));
      t.data.push(
        t.spawnServer(replicaPort, 'replica', ['--port', String(replicaPort), '--dir', t.nodeDir(replicaPort), '--replicaof', HOST, String(masterPort), ...common]),
      );
      await Promise.all(t.data.map((n) => Topology.answering(n)));
      await waitFor('replica in sync', async () => infoField(await t.data[1].command('INFO', 'replication'), 'master_link_status') === 'up');
      const quorum = Math.floor(sentinels / 2) + 1;
      for (const port of sentinelPorts) {
        // Sentinel rewrites its config file, so each gets its own, in the temp dir.
        const conf = join(t.nodeDir(port), 'sentinel.conf');
        writeFileSync(
          conf,
          [
            `port ${port}`,
            `bind ${HOST}`,
            'protected-mode no',
            `dir ${t.nodeDir(port)}`,
            `sentinel monitor ${name} ${HOST} ${masterPort} ${quorum}`,
            `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
            `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
            `sentinel parallel-syncs ${name} 1`,
            '',
          ].join('\n'),
        );
        t.sentinels.push(t.spawnServer(port, 'sentinel', [conf, '--sentinel']));
      }
      await Promise.all(t.sentinels.map((n) => Topology.answering(n)));
      // Before any failover can work, every sentinel must know the replica and the other sentinels.
      await waitFor('sentinels to discover the replica and each other', async () => {
        for (const s of t.sentinels) {
          const replicas = (await s.command('SENTINEL', 'REPLICAS', name)) as unknown[];
          const others = (await s.command('SENTINEL', 'SENTINELS', name)) as unknown[];
          if (replicas.length < 1 || others.length < sentinels - 1) return false;
        }
        return true;
      }, 30_000);
      return t;
    } catch (error) {
      await t.stop();
      throw error;
    }
  }

  /** `REDIS_SENTINELS` for the apps. */
  get sentinelList(): string {
    return this.sentinels.map((s) => `${HOST}:${s.port}`).join(',');
  }

  /** The data node the sentinels name as master now. */
  async master(): Promise<RedisProcess> {
    const s = this.sentinels.find((x) => x.alive);
    if (!s) throw new Error('no sentinel is running');
    const [, port] = (await s.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)) as [string, string];
    const node = this.data.find((n) => n.port === Number(port));
    if (!node) throw new Error(`sentinels name unknown master port ${port}`);
    return node;
  }

  /** Resolves with the new master once every sentinel names a live one that reports role master. */
  async waitFailedOver(timeoutMs = 20_000): Promise<RedisProcess> {
    return waitFor('a sentinel failover to a live master', async () => {
      const ports = new Set<string>();
      for (const s of this.sentinels) ports.add(String(((await s.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)) as string[])[1]));
      if (ports.size !== 1) return undefined;
      const m = await this.master();
      if (!m.alive) return undefined;
      return infoField(await m.command('INFO', 'replication'), 'role') === 'master' ? m : undefined;
    }, timeoutMs);
  }
}
