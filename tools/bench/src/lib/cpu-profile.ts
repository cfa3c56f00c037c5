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

export function summariseProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const timeOf = new Map<number, number>();
  profile.samples.forEach((id, i) => timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  let totalUs = 0;
  let idleUs = 0;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of timeOf) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    if (node.callFrame.functionName === IDLE) {
      idleUs += us;
      continue;
    }
    const key = functionKey(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame || frame.functionName === '(root)') continue;
      const pkg = packageOf(frame.url);
      if (!seen.has(pkg)) {
        seen.add(pkg);
        inclusive.set(pkg, (inclusive.get(pkg) ?? 0) + us);
      }
    }
  }
  const busy = Math.max(1, totalUs - idleUs);
  const rows = (m: Map<string, number>) =>
    [...m].map(([name, us]) => ({ name, us, share: us / busy })).sort((a, b) => b.us - a.us || (a.name < b.name ? -1 : 1));
  return { totalUs, idleUs, functions: rows(self), packages: rows(inclusive) };
}

/** A table of the top rows; with `requests`, also microseconds per request. */
export function formatRows(title: string, rows: ProfileRow[], top: number, requests?: number): string {
  const lines = [title];
  for (const r of rows.slice(0, top)) {
    const perRequest = requests ? `${(r.us / requests).toFixed(2).padStart(8)} us/req  ` : '';
    lines.push(`${(r.share * 100).toFixed(1).padStart(6)}%  ${perRequest}${r.name}`);
  }
  return lines.join('\n');
}
