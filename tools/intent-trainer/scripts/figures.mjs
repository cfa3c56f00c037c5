// Prints a model's validation figures from its manifest as Markdown (for the READMEs):
//   node tools/intent-trainer/scripts/figures.mjs models/intent-classifier/2.1.0/manifest.json
import { readFileSync } from 'node:fs';

const m = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const e = m.evaluation;
const v = e.validation;
const pct = (x) => `${(x * 100).toFixed(2)}%`;
const out = [];
const typos = e.validation_with_typos;
out.push('| held-out real queries (' + v.examples + ') | value |', '| --- | ---: |');
out.push(`| accuracy (top-1) | ${pct(v.accuracy)} |`);
out.push(`| accuracy as served (\`unknown\` counted wrong) | ${pct(v.accuracy_with_threshold)} |`);
out.push(`| macro-F1 | ${pct(v.macro_f1)} |`);
out.push(`| answered \`unknown\` | ${pct(v.unknown_rate)} (threshold ${m.threshold}) |`);
if (typos) {
  out.push(`| accuracy as served on the typo'd copy (seed ${typos.seed}, ~1 edit / ${Math.round(1 / typos.edits_per_character)} chars) | ${pct(typos.accuracy_with_threshold)} (top-1 ${pct(typos.accuracy)}) |`);
}
for (const s of e.other_sets ?? []) {
  out.push(
    s.out_of_scope
      ? `| ${s.name} (${s.examples}, ours): answered \`unknown\` | ${pct(s.unknown_rate)} |`
      : `| ${s.name} (${s.examples}, ours, written): accuracy as served | ${pct(s.accuracy_with_threshold)} |`,
  );
}
out.push('', 'Ten most confused pairs (true → predicted, count):', '');
for (const c of e.confusion_hot_spots) out.push(`- \`${c.true}\` → \`${c.predicted}\`: ${c.count}`);
if (v.per_label_f1) {
  out.push('', '<details><summary>Per-class F1 on the held-out real queries</summary>', '');
  const rows = Object.entries(v.per_label_f1).sort((a, b) => (a[1] ?? 2) - (b[1] ?? 2) || (a[0] < b[0] ? -1 : 1));
  out.push('| label | F1 | label | F1 | label | F1 |', '| --- | ---: | --- | ---: | --- | ---: |');
  for (let i = 0; i < rows.length; i += 3) {
    out.push('| ' + rows.slice(i, i + 3).map(([l, f]) => `\`${l}\` | ${f === null ? '-' : f.toFixed(3)}`).join(' | ') + ' |');
  }
  out.push('', '</details>');
}
process.stdout.write(out.join('\n') + '\n');
