/**
 * Load curves: the same closed-loop load at growing concurrency against several running targets,
 * interleaved point by point (the order alternates at each point), and a report page: a markdown
 * table and SVG charts (throughput, p50 and p99 latency against concurrency, log2 x-axis).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { log } from './cli';
import type { LoadResult } from './load';
import { fmt, ratio } from './report';
import { lineChart, type ChartSeries } from './svg-chart';

export const SWEEP_LEVELS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** The load-curve options every benchmark takes (spread into parseArgs options). */
export const SWEEP_OPTIONS = {
  sweep: { type: 'boolean', default: false },
  levels: { type: 'string', default: SWEEP_LEVELS.join(',') },
  'point-duration': { type: 'string', default: '3' },
  'point-warmup': { type: 'string', default: '1' },
} as const;

export interface SweepTarget {
  name: string;
  /** Draw dashed (the baseline). */
  baseline?: boolean;
  /** One measured load at `connections` (warm-up included), e.g. a runLoad closure. */
  load(connections: number): Promise<LoadResult>;
}

export interface SweepPoint {
  connections: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  failures: number;
}

export interface SweepSeries {
  name: string;
  baseline: boolean;
  points: SweepPoint[];
}

/** Measures every target at every level, ascending; at each level the targets' order alternates. */
export async function runSweep(targets: readonly SweepTarget[], levels: readonly number[] = SWEEP_LEVELS): Promise<SweepSeries[]> {
  const series = targets.map((t) => ({ name: t.name, baseline: t.baseline === true, points: [] as SweepPoint[] }));
  for (const [i, c] of levels.entries()) {
    const order = targets.map((_, k) => k);
    if (i % 2 === 1) order.reverse();
    for (const k of order) {
      const r = await targets[k].load(c);
      const point = { connections: c, reqPerSec: r.reqPerSec, p50: r.latencyMs.p50, p99: r.latencyMs.p99, failures: r.non2xx + r.errors + r.timeouts };
      series[k].points.push(point);
      log(`  sweep c=${c} ${targets[k].name}: ${fmt(point.reqPerSec)} req/s, p50 ${fmt(point.p50, 2)} ms, p99 ${fmt(point.p99, 2)} ms${point.failures ? `, ${point.failures} failed` : ''}`);
    }
  }
  return series;
}

export interface SweepReport {
  /** File name stem, e.g. `intent-sweep-<timestamp>`. */
  stem: string;
  title: string;
  /** Markdown paragraphs under the title: what ran, how, the env overrides. */
  notes: string[];
  series: SweepSeries[];
  /** Anything else to keep in the JSON. */
  meta: Record<string, unknown>;
}

/** Writes `<stem>.md`, `<stem>-{throughput,p50,p99}.svg` and `<stem>.json` into `dir`; returns the page's path. */
export function writeSweepReport(dir: string, report: SweepReport): string {
  mkdirSync(dir, { recursive: true });
  const chart = (metric: 'reqPerSec' | 'p50' | 'p99', title: string, yLabel: string, logY: boolean) => {
    const series: ChartSeries[] = report.series.map((s) => ({ name: s.name, dashed: s.baseline, points: s.points.map((p) => ({ x: p.connections, y: p[metric] })) }));
    const file = `${report.stem}-${metric === 'reqPerSec' ? 'throughput' : metric}.svg`;
    writeFileSync(join(dir, file), lineChart({ title, xLabel: 'concurrent connections (closed loop)', yLabel, series, logY }));
    return file;
  };
  const charts = [
    chart('reqPerSec', `${report.title}: throughput`, 'req/s', false),
    chart('p50', `${report.title}: p50 latency`, 'p50 ms', true),
    chart('p99', `${report.title}: p99 latency`, 'p99 ms', true),
  ];
  const baseline = report.series.find((s) => s.baseline);
  const levels = [...new Set(report.series.flatMap((s) => s.points.map((p) => p.connections)))].sort((a, b) => a - b);
  const header = ['c', ...report.series.flatMap((s) => [`${s.name} req/s`, 'p50 ms', 'p99 ms', ...(baseline && !s.baseline ? ['x baseline'] : [])])];
  const rows = levels.map((c) => [
    String(c),
    ...report.series.flatMap((s) => {
      const p = s.points.find((q) => q.connections === c);
      const base = baseline?.points.find((q) => q.connections === c);
      return [fmt(p?.reqPerSec) + (p?.failures ? ` (${p.failures} failed)` : ''), fmt(p?.p50, 2), fmt(p?.p99, 2), ...(baseline && !s.baseline ? [fmt(ratio(p?.reqPerSec, base?.reqPerSec), 2)] : [])];
    }),
  ]);
  const md = [
    `# ${report.title}: load curves`,
    '',
    ...report.notes.flatMap((n) => [n, '']),
    ...charts.map((f) => `![${f}](${f})`),
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `Raw: [${report.stem}.json](${report.stem}.json)`,
    '',
  ].join('\n');
  const page = join(dir, `${report.stem}.md`);
  writeFileSync(page, md);
  writeFileSync(join(dir, `${report.stem}.json`), `${JSON.stringify({ title: report.title, ...report.meta, series: report.series, charts, page: basename(page) }, null, 2)}\n`);
  return page;
}
