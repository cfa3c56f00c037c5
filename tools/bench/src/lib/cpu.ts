import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * CPU accounting from /proc (Linux): how many cores the server, the load generator and everything
 * else on the machine used during a measurement. "Everything else" is the noise indicator: on a
 * shared 2-core machine, a compile or a training job next door moves throughput by tens of percent.
 * Elsewhere the functions return undefined and the benchmark simply reports less.
 */

export interface CpuSnapshot {
  /** Jiffies the whole machine spent busy / in total (all cores). */
  machineBusy: number;
  machineTotal: number;
  /** Jiffies (user + system) per watched process id. */
  processes: Map<number, number>;
  /**
   * Jiffies of each watched process's main thread (its event loop, for Node), apart from its other
   * threads (inference workers, the libuv pool, V8's GC helpers): a process whose event loop is
   * near 1.0 core is limited by it, whatever its total says.
   */
  eventLoops: Map<number, number>;
}

export interface CpuUsage {
  /** Cores used, averaged over the interval (1.0 = one core fully busy). */
  server: number;
  /** Of `server`, what its main thread (the event loop) used. */
  serverEventLoop?: number;
  driver: number;
  other: number;
}

const available = existsSync('/proc/stat');

/**
 * Load generators running as children of this process (wrk): counted with it while they run; once
 * ended and waited for, the kernel counts them in this process's children's time, read below.
 */
export const loadGeneratorPids = new Set<number>();

/**
 * User + system jiffies of a process (`/proc/<pid>/stat`) or of one of its threads
 * (`/proc/<pid>/task/<tid>/stat`); with `children`, also those of its children that have ended
 * and been waited for (a `wrk` load generator, once its run is over).
 */
function processJiffies(pid: number, tid?: number, children = false): number {
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]) + (children ? Number(fields[13]) + Number(fields[14]) : 0);
  } catch {
    return 0;
  }
}

function driverJiffies(): number {
  let j = processJiffies(process.pid, undefined, true);
  for (const pid of loadGeneratorPids) j += processJiffies(pid);
  return j;
}

export function cpuSnapshot(pids: number[]): CpuSnapshot | undefined {
  if (!available) return undefined;
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [, ...values] = line.trim().split(/\s+/);
  const n = values.map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const idle = n[3] + (n[4] ?? 0);
  const total = n.slice(0, 8).reduce((a, b) => a + (b || 0), 0);
  return {
    machineBusy: total - idle,
    machineTotal: total,
    // The benchmark's own figure includes its load generator when that is wrk, running or ended.
    processes: new Map(pids.map((p) => [p, p === process.pid ? driverJiffies() : processJiffies(p)])),
    eventLoops: new Map(pids.map((p) => [p, processJiffies(p, p)])),
  };
}

/** Cores per jiffy between two snapshots (all cores' jiffies are counted in the machine total). */
function coresPerJiffy(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined): number | undefined {
  if (!before || !after) return undefined;
  const total = after.machineTotal - before.machineTotal;
  return total > 0 ? cpus().length / total : undefined;
}

/** Cores `pid` used between two snapshots (1.0 = one core fully busy); its event loop's alone with `eventLoop`. */
export function coresUsed(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined, pid: number, eventLoop = false): number | undefined {
  const scale = coresPerJiffy(before, after);
  if (scale === undefined || !before || !after) return undefined;
  const from = eventLoop ? before.eventLoops : before.processes;
  const to = eventLoop ? after.eventLoops : after.processes;
  if (!from.has(pid) || !to.has(pid)) return undefined;
  return ((to.get(pid) ?? 0) - (from.get(pid) ?? 0)) * scale;
}

/** Cores used between two snapshots by the server, this process (the driver), and the rest. */
export function cpuBetween(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined, serverPid: number): CpuUsage | undefined {
  const scale = coresPerJiffy(before, after);
  if (scale === undefined || !before || !after) return undefined;
  const delta = (pid: number) => (after.processes.get(pid) ?? 0) - (before.processes.get(pid) ?? 0);
  const server = delta(serverPid);
  const driver = delta(process.pid);
  const busy = after.machineBusy - before.machineBusy;
  return {
    server: server * scale,
    serverEventLoop: coresUsed(before, after, serverPid, true),
    driver: driver * scale,
    other: Math.max(0, busy - server - driver) * scale,
  };
}

/** Cores the rest of the machine used over `sampleMs` (excluding this process). */
export async function otherLoad(sampleMs = 2_000): Promise<number | undefined> {
  const before = cpuSnapshot([process.pid]);
  await new Promise((r) => setTimeout(r, sampleMs));
  const after = cpuSnapshot([process.pid]);
  return cpuBetween(before, after, -1)?.other;
}
