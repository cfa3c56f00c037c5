/**
 * Reading V8 `.cpuprofile` files (written by `node --cpu-prof`, see BENCH_CPU_PROF in targets.ts):
 * where a process's time went, by function (self time) and by package (inclusive time: a sample
 * counts once for every package on its stack).
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  /** Microseconds. */
  us: number;
  /** Share of the busy time (idle excluded). */
  share: number;
}

export interface ProfileSummary {
  /** Sampled microseconds, idle included. */
  totalUs: number;
  idleUs: number;
  /** Self time by function, busiest first. */
  functions: ProfileRow[];
  /** Inclusive time by package (node_modules package, `node:` internals, or the script). */
  packages: ProfileRow[];
  /** Inclusive time of the names asked for, then of any of them (none asked: empty). */
  inclusive: ProfileRow[];
}

const IDLE = '(idle)';

/** `.../node_modules/@scope/pkg/lib/x.js` -> `@scope/pkg`; `node:events` -> `node:events`; else the file name. */
export function packageOf(url: string): string {
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return url;
  return url.slice(url.lastIndexOf('/') + 1);
}

function functionKey(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (frame.url === '') return name;
  return `${name} ${packageOf(frame.url)}:${frame.lineNumber + 1}`;
}

/** Each sampled node's time, with its stack (leaf first); idle time apart. */
function samples(profile: CpuProfile): { totalUs: number; idleUs: number; stacks: Array<{ us: number; frames: CallFrame[] }> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const timeOf = new Map<number, number>();
  profile.samples.forEach((id, i) => timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let totalUs = 0;
  let idleUs = 0;
  const stacks: Array<{ us: number; frames: CallFrame[] }> = [];
  for (const [id, us] of timeOf) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    if (node.callFrame.functionName === IDLE) {
      idleUs += us;
      continue;
    }
    const frames: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame && frame.functionName !== '(root)') frames.push(frame);
    }
    stacks.push({ us, frames });
  }
  return { totalUs, idleUs, stacks };
}

const byTime = (m: Map<string, number>, busy: number): ProfileRow[] =>
  [...m].map(([name, us]) => ({ name, us, share: us / busy })).sort((a, b) => b.us - a.us || (a.name < b.name ? -1 : 1));

/**
 * Busy and idle time, self time by function, inclusive time by package, and, for `names` (each a
 * function name or a package as {@link packageOf} names it), their inclusive time: a sample counts
 * for a name when any frame on its stack matches, once however many do. The last of those rows,
 * `any of them`, counts a sample once if it matches any name, so overlapping names (a function and
 * the package it calls) are not added twice. Those rows keep the order of `names`.
 */
export function summariseProfile(profile: CpuProfile, names: string[] = []): ProfileSummary {
  const { totalUs, idleUs, stacks } = samples(profile);
  const self = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const named = new Array<number>(names.length + 1).fill(0);
  for (const { us, frames } of stacks) {
    const key = functionKey(frames[0]);
    self.set(key, (self.get(key) ?? 0) + us);
    const packages = new Set(frames.map((f) => packageOf(f.url)));
    for (const pkg of packages) byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    let any = false;
    names.forEach((name, i) => {
      if (packages.has(name) || frames.some((f) => f.functionName === name)) {
        named[i] += us;
        any = true;
      }
    });
    if (any) named[names.length] += us;
  }
  const busy = Math.max(1, totalUs - idleUs);
  const inclusive = names.length === 0 ? [] : [...names, 'any of them'].map((name, i) => ({ name, us: named[i], share: named[i] / busy }));
  return { totalUs, idleUs, functions: byTime(self, busy), packages: byTime(byPackage, busy), inclusive };
}

/** The inclusive time of `names` alone (see {@link summariseProfile}). */
export const inclusiveOf = (profile: CpuProfile, names: string[]): ProfileRow[] => summariseProfile(profile, names).inclusive;

/** A table of the top rows; with `requests`, also microseconds per request. */
export function formatRows(title: string, rows: ProfileRow[], top: number, requests?: number): string {
  const lines = [title];
  for (const r of rows.slice(0, top)) {
    const perRequest = requests ? `${(r.us / requests).toFixed(2).padStart(8)} us/req  ` : '';
    lines.push(`${(r.share * 100).toFixed(1).padStart(6)}%  ${perRequest}${r.name}`);
  }
  return lines.join('\n');
}
