/**
 * A line chart as a standalone SVG string, no dependencies: the benchmarks' load curves
 * (throughput or latency against concurrency, one line per target). x on a log2 axis (or linear),
 * y linear from 0 (or log10).
 */

export interface ChartPoint {
  x: number;
  y: number;
}

export interface ChartSeries {
  name: string;
  points: readonly ChartPoint[];
  /** CSS colour; default from a colour-blind-safe palette, by position. */
  color?: string;
  /** Dashed line (e.g. for a baseline). */
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  /** x on a log2 scale, ticks at powers of 2 (default true). */
  logX?: boolean;
  /** y on a log10 scale, ticks at 1-2-5 steps (default false: linear from 0). */
  logY?: boolean;
  width?: number;
  height?: number;
}

const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9'];
const MARGIN = { left: 70, right: 20, top: 36, bottom: 48 };

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** Tick values for a linear axis from 0 to at least `max`: 1-2-5 steps, about `count` of them. */
export function linearTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/** Powers of 2 covering [min, max]. */
export function log2Ticks(min: number, max: number): number[] {
  const lo = Math.floor(Math.log2(min));
  const hi = Math.ceil(Math.log2(max));
  return Array.from({ length: hi - lo + 1 }, (_, i) => 2 ** (lo + i));
}

/** 1-2-5 steps of each decade covering [min, max] (only powers of 10 when the range spans > 3 decades). */
export function log10Ticks(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const steps = hi - lo > 3 ? [1] : [1, 2, 5];
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) for (const s of steps) ticks.push(Number((s * 10 ** e).toPrecision(12)));
  const first = ticks.filter((t) => t <= min).pop() ?? ticks[0];
  const last = ticks.find((t) => t >= max) ?? ticks[ticks.length - 1];
  return ticks.filter((t) => t >= first && t <= last);
}

const label = (v: number) => (Math.abs(v) >= 10_000 ? `${+(v / 1000).toPrecision(3)}k` : `${+v.toPrecision(3)}`);

/** The chart as an SVG document. Points with a non-finite (or, on a log axis, non-positive) coordinate are left out. */
export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const logX = o.logX ?? true;
  const logY = o.logY ?? false;
  const ok = (p: ChartPoint) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logX || p.x > 0) && (!logY || p.y > 0);
  const series = o.series.map((s) => ({ ...s, points: s.points.filter(ok) }));
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const xTicks = all.length === 0 ? [1, 2] : logX ? log2Ticks(Math.min(...xs), Math.max(...xs)) : linearTicks(Math.max(...xs));
  const yTicks = all.length === 0 ? [0, 1] : logY ? log10Ticks(Math.min(...ys), Math.max(...ys)) : linearTicks(Math.max(...ys));
  const [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const fx = logX ? Math.log2 : (v: number) => v;
  const fy = logY ? Math.log10 : (v: number) => v;
  const sx = (v: number) => MARGIN.left + (x1 === x0 ? 0.5 : (fx(v) - fx(x0)) / (fx(x1) - fx(x0))) * plotW;
  const sy = (v: number) => MARGIN.top + plotH - (y1 === y0 ? 0.5 : (fy(v) - fy(y0)) / (fy(y1) - fy(y0))) * plotH;
  const r = (v: number) => v.toFixed(1);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>`,
  ];
  for (const t of xTicks) {
    out.push(`<line x1="${r(sx(t))}" y1="${MARGIN.top}" x2="${r(sx(t))}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${r(sx(t))}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  for (const t of yTicks) {
    out.push(`<line x1="${MARGIN.left}" y1="${r(sy(t))}" x2="${MARGIN.left + plotW}" y2="${r(sy(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${r(sy(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(o.xLabel)}${logX ? ' (log2 scale)' : ''}</text>`);
  out.push(
    `<text x="16" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})">${escapeXml(o.yLabel)}${logY ? ' (log scale)' : ''}</text>`,
  );
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.map((p) => `${r(sx(p.x))},${r(sy(p.y))}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${r(sx(p.x))}" cy="${r(sy(p.y))}" r="3" fill="${color}"><title>${escapeXml(`${s.name}: x=${p.x}, y=${label(p.y)}`)}</title></circle>`);
    const ly = MARGIN.top + 14 + i * 16;
    const lx = MARGIN.left + 10;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 26}" y="${ly}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
