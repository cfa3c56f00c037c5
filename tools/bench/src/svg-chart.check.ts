/**
 * Self-check of lib/svg-chart.ts (tools/bench has no jest project):
 *   npx ts-node --transpile-only -P tools/bench/tsconfig.json tools/bench/src/svg-chart.check.ts
 * Exits 1 on the first failed check.
 */
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { escapeXml, lineChart, linearTicks, log10Ticks, log2Ticks } from './lib/svg-chart';

deepStrictEqual(log2Ticks(1, 256), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
deepStrictEqual(log2Ticks(3, 100), [2, 4, 8, 16, 32, 64, 128]);
deepStrictEqual(linearTicks(9_500), [0, 2000, 4000, 6000, 8000, 10000]);
deepStrictEqual(linearTicks(1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
deepStrictEqual(log10Ticks(0.3, 40), [0.2, 0.5, 1, 2, 5, 10, 20, 50]);
deepStrictEqual(log10Ticks(0.05, 900), [0.01, 0.1, 1, 10, 100, 1000]);
strictEqual(escapeXml(`a<b & "c"`), 'a&lt;b &amp; &quot;c&quot;');

const svg = lineChart({
  title: 'req/s <vs> c',
  xLabel: 'connections',
  yLabel: 'req/s',
  width: 400,
  height: 300,
  series: [
    { name: 'app', points: [{ x: 1, y: 0 }, { x: 256, y: 10_000 }, { x: 16, y: 5_000 }] },
    { name: 'bare & co', points: [{ x: 1, y: 2_000 }, { x: 256, y: NaN }], dashed: true },
  ],
});
ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"'));
ok(svg.trimEnd().endsWith('</svg>'));
ok(svg.includes('req/s &lt;vs&gt; c') && svg.includes('bare &amp; co') && !svg.includes('bare & co'));
// Plot area: x from 70 to 380, y from 36 (top) to 252 (bottom); x ticks 1..256 on log2, y 0..10,000.
ok(svg.includes('points="70.0,252.0 225.0,144.0 380.0,36.0"'), 'app polyline sorted by x, log2 x, linear y');
ok(svg.includes('<circle cx="70.0" cy="208.8"'), 'bare point at (1, 2000)');
strictEqual((svg.match(/<polyline/g) ?? []).length, 1, 'a series left with one point has no line');
strictEqual((svg.match(/stroke-dasharray/g) ?? []).length, 1, 'the dashed series legend');
// Balanced tags: every opened element is closed or self-closing.
const stack: string[] = [];
for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
  if (m[1]) strictEqual(stack.pop(), m[2]);
  else if (!m[3]) stack.push(m[2]);
}
strictEqual(stack.length, 0);
const logY = lineChart({ title: 't', xLabel: 'x', yLabel: 'ms', logY: true, series: [{ name: 'a', points: [{ x: 1, y: 1 }, { x: 4, y: 100 }] }] });
ok(logY.includes('(log scale)') && /points="70\.0,[0-9.]+ 620\.0,36\.0"/.test(logY));
console.log('svg-chart: all checks passed');
