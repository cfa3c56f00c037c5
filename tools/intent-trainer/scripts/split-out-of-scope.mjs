// Builds data/out-of-scope/{train,validation}.tsv from the hand-written texts in
// data/out-of-scope/by-group/<group>.txt (one text per line), after checking them.
//
//   node tools/intent-trainer/scripts/split-out-of-scope.mjs [--check-only]
//
// Checks (the run fails and writes nothing if any is violated):
// - no tabs in a text, no empty texts, no text equal to a label name;
// - no exact duplicates (case and whitespace ignored) across all groups;
// - no two texts with character 4-gram Jaccard >= 0.7 (lower-cased, whitespace-collapsed);
// - no text with Jaccard >= 0.7 to an in-scope training/validation text of this repo, or to a
//   query in $BANKING77_DIR/train.csv (default ../shared/data/banking77 from the repo root) when
//   that file exists.
// Split: about 20% of each group goes to validation, chosen with a seeded shuffle; texts linked by
// Jaccard >= 0.5 (transitively) form one cluster and stay on the same side.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..');
const dataDir = join(here, '..', 'data');
const oosDir = join(dataDir, 'out-of-scope');
const groupDir = join(oosDir, 'by-group');
const SEED = 20261204;
const VALIDATION_SHARE = 0.2;
const checkOnly = process.argv.includes('--check-only');

const norm = (t) => t.toLowerCase().replace(/\s+/g, ' ').trim();
function grams(text) {
  const s = norm(text);
  const out = new Set();
  if (s.length < 4) out.add(s);
  for (let i = 0; i + 4 <= s.length; i++) out.add(s.slice(i, i + 4));
  return out;
}
function jaccard(a, b) {
  if (a.size > b.size) [a, b] = [b, a];
  let common = 0;
  for (const g of a) if (b.has(g)) common++;
  const union = a.size + b.size - common;
  return union === 0 ? 1 : common / union;
}
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle(items, rand) {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

const labels = readFileSync(join(dataDir, 'labels.txt'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);
const labelSet = new Set(labels.map((l) => l.toLowerCase()));

const groups = readdirSync(groupDir)
  .filter((f) => f.endsWith('.txt'))
  .sort()
  .map((f) => f.replace(/\.txt$/, ''));
const items = [];
const problems = [];
for (const group of groups) {
  readFileSync(join(groupDir, `${group}.txt`), 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const text = line.replace(/\r$/, '').trim();
      if (text === '') return;
      const where = `${group}.txt:${i + 1}`;
      if (/[\t\n]/.test(text)) problems.push(`${where}: tab in text`);
      if (labelSet.has(text.toLowerCase()))
        problems.push(`${where}: equals a label name`);
      items.push({ group, text, where, grams: grams(text) });
    });
}

const seen = new Map();
for (const it of items) {
  const key = norm(it.text);
  if (seen.has(key))
    problems.push(
      `duplicate: ${it.where} = ${seen.get(key).where} "${it.text}"`,
    );
  else seen.set(key, it);
}

// All pairs inside the set: >= 0.7 is an error, >= 0.5 links a cluster.
const parent = items.map((_, i) => i);
const find = (i) => (parent[i] === i ? i : (parent[i] = find(parent[i])));
let links = 0;
let maxInside = 0;
for (let i = 0; i < items.length; i++) {
  for (let j = i + 1; j < items.length; j++) {
    const a = items[i].grams;
    const b = items[j].grams;
    if (Math.min(a.size, b.size) / Math.max(a.size, b.size) < 0.5) continue;
    const s = jaccard(a, b);
    if (s >= 0.7 && norm(items[i].text) !== norm(items[j].text))
      problems.push(
        `near-duplicate ${s.toFixed(3)}: ${items[i].where} "${items[i].text}" ~ ${items[j].where} "${items[j].text}"`,
      );
    if (s >= 0.5) {
      links++;
      parent[find(i)] = find(j);
    }
    if (s < 0.7) maxInside = Math.max(maxInside, s);
  }
}

function checkAgainst(name, texts) {
  let max = 0;
  let worst = '';
  const sets = texts.map((t) => [t, grams(t)]);
  for (const it of items) {
    for (const [t, g] of sets) {
      // Jaccard is at most the ratio of the two sizes: skip pairs that can neither be a
      // near-duplicate nor beat the highest score so far.
      if (
        Math.min(g.size, it.grams.size) / Math.max(g.size, it.grams.size) <
        Math.min(max, 0.7)
      )
        continue;
      const s = jaccard(it.grams, g);
      if (s >= 0.7)
        problems.push(
          `near-duplicate of ${name} ${s.toFixed(3)}: ${it.where} "${it.text}" ~ "${t}"`,
        );
      if (s > max) {
        max = s;
        worst = `"${it.text}" ~ "${t}"`;
      }
    }
  }
  console.log(`max Jaccard to ${name}: ${max.toFixed(3)} ${worst}`);
}
const inScope = [];
for (const split of ['train', 'validation'])
  for (const f of readdirSync(join(dataDir, split)).filter((f) =>
    f.endsWith('.tsv'),
  ))
    for (const line of readFileSync(join(dataDir, split, f), 'utf8').split(
      '\n',
    ))
      if (line.includes('\t'))
        inScope.push(line.slice(line.indexOf('\t') + 1).trim());
checkAgainst('repo in-scope data', inScope);
const b77 = join(
  resolve(repoRoot, process.env.BANKING77_DIR ?? '../shared/data/banking77'),
  'train.csv',
);
if (existsSync(b77)) {
  const rows = parseCsv(readFileSync(b77, 'utf8'));
  checkAgainst(
    `banking77 train.csv (${rows.length - 1} rows)`,
    rows.slice(1).map((r) => r[0]),
  );
} else console.log(`skipped: ${b77} not found`);

console.log(
  `texts: ${items.length}; inside-set pairs >= 0.5: ${links}; max inside-set Jaccard below 0.7: ${maxInside.toFixed(3)}`,
);
if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`${problems.length} problem(s)`);
  process.exit(1);
}
if (checkOnly) process.exit(0);

// Seeded, stratified split by group; a cluster belongs to the group of its first member.
const clusters = new Map();
items.forEach((it, i) => {
  const root = find(i);
  if (!clusters.has(root)) clusters.set(root, []);
  clusters.get(root).push(i);
});
const rand = mulberry32(SEED);
const inValidation = new Set();
for (const group of groups) {
  const own = [...clusters.values()].filter((c) => items[c[0]].group === group);
  const size = own.reduce((n, c) => n + c.length, 0);
  const target = Math.round(size * VALIDATION_SHARE);
  let taken = 0;
  for (const c of shuffle(own, rand)) {
    if (taken + c.length > target) continue;
    c.forEach((i) => inValidation.add(i));
    taken += c.length;
  }
}
const order = shuffle(
  items.map((_, i) => i),
  mulberry32(SEED + 1),
);
const lines = (val) =>
  order
    .filter((i) => inValidation.has(i) === val)
    .map((i) => `out_of_scope\t${items[i].text}\n`)
    .join('');
writeFileSync(join(oosDir, 'train.tsv'), lines(false));
writeFileSync(join(oosDir, 'validation.tsv'), lines(true));
const counts = groups.map((g) => {
  const all = items.filter((it) => it.group === g).length;
  const val = items.filter(
    (it, i) => it.group === g && inValidation.has(i),
  ).length;
  return `${g}: ${all} (train ${all - val}, validation ${val})`;
});
console.log(counts.join('\n'));
console.log(
  `total ${items.length}: train ${items.length - inValidation.size}, validation ${inValidation.size}; clusters with > 1 text: ${[...clusters.values()].filter((c) => c.length > 1).length}`,
);
