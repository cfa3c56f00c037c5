import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Deterministic, realistic and distinct banking queries.
 *
 * Every query is `prefix + base + suffix`: the base is a real customer phrasing (the trainer's
 * held-out validation texts), the prefix a greeting or nothing, the suffix a reference such as an
 * order or transaction number. The number in the suffix is a bijection of the query's index, so
 * query i and query j differ for every i != j below {@link MAX_DISTINCT}: a server that caches
 * answers (or a model runtime that memoises anything) never sees the same text twice in a run.
 */

const PRIME = 1_000_000_007;
// Any multiplier in [1, PRIME) makes i -> i * MULTIPLIER mod PRIME a bijection; a large one
// makes neighbouring queries' numbers look unrelated.
const MULTIPLIER = 740_363_923;
/** Indices below this map to distinct reference numbers (and so distinct texts). */
export const MAX_DISTINCT = PRIME;

const PREFIXES = [
  '',
  '',
  '',
  'Hi, ',
  'Hello, ',
  'Hey there. ',
  'Good morning. ',
  'Quick question: ',
  'Sorry to bother you, ',
  'Hi team, ',
  'Please help: ',
  'Urgent: ',
  'Hello again, ',
  'Good evening, ',
];

/** `{n}` is the unique reference number (10 digits), `{hex}` the same number in hex, `{last4}` a card tail. */
const SUFFIXES = [
  ' (ref {n})',
  ' My customer number is {n}.',
  ' Order number {n}.',
  ' Ticket #{n}',
  ' Card ending {last4}, ref {n}.',
  ' Thanks. Account {n}.',
  ' [case {n}]',
  ' This is about transaction {hex}.',
  ' Payment ID {hex}.',
  ' - sent from my phone, ref {n}',
  ' Reference: {n}',
  ' Thank you! (member {n})',
];

/** A 32-bit integer hash (splitmix-style finaliser): a stateless PRNG keyed by seed and index. */
function hash32(seed: number, i: number, salt: number): number {
  let x = (Math.imul(i ^ salt, 0x9e3779b1) + seed) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** (i * MULTIPLIER + seed) mod PRIME, exactly, without leaving double precision. */
function referenceOf(i: number, seed: number): number {
  const hi = Math.floor(i / 65_536);
  const lo = i % 65_536;
  const a = (((hi * MULTIPLIER) % PRIME) * 65_536) % PRIME;
  return (a + ((lo * MULTIPLIER) % PRIME) + (seed % PRIME)) % PRIME;
}

/** Fisher-Yates with the seeded hash: the same seed gives the same order on every machine. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = hash32(seed, i, 0x51ed) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The texts (second column) of every `*.tsv` in a folder, de-duplicated, in file then line order. */
export function readCorpus(dir: string): string[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.tsv'))
    .sort();
  if (files.length === 0) throw new Error(`no *.tsv files in ${dir}`);
  const seen = new Set<string>();
  for (const file of files) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const text = line.split('\t')[1]?.trim();
      if (text) seen.add(text);
    }
  }
  if (seen.size === 0) throw new Error(`no texts in the *.tsv files of ${dir}`);
  return [...seen];
}

export class QueryGenerator {
  private readonly bases: string[];

  constructor(
    bases: readonly string[],
    private readonly seed = 1,
  ) {
    if (bases.length === 0) throw new Error('QueryGenerator needs at least one base text');
    this.bases = shuffled(bases, seed);
  }

  /** The i-th query (0 <= i < MAX_DISTINCT); a pure function of (bases, seed, i). */
  at(i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= MAX_DISTINCT) throw new RangeError(`query index ${i} out of range`);
    const base = this.bases[i % this.bases.length];
    const r = hash32(this.seed, i, 0x2545f491);
    const prefix = PREFIXES[r % PREFIXES.length];
    const suffix = SUFFIXES[(r >>> 8) % SUFFIXES.length];
    const n = referenceOf(i, this.seed);
    const text =
      prefix === '' ? base : prefix + (r & 0x10000 ? base : base.charAt(0).toLowerCase() + base.slice(1));
    return (
      text +
      suffix
        .replace('{n}', String(1_000_000_000 + n))
        .replace('{hex}', n.toString(16).toUpperCase().padStart(8, '0'))
        .replace('{last4}', String((r >>> 16) % 10_000).padStart(4, '0'))
    );
  }

  /** The first `count` queries. */
  take(count: number, start = 0): string[] {
    return Array.from({ length: count }, (_, k) => this.at(start + k));
  }
}

/** Throws unless the first `count` queries are pairwise distinct. */
export function assertDistinct(generator: QueryGenerator, count: number): void {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const q = generator.at(i);
    if (seen.has(q)) throw new Error(`query ${i} repeats an earlier query: ${JSON.stringify(q)}`);
    seen.add(q);
  }
}

/**
 * A cursor over a generator: each call to `next()` returns the following query. One cursor per
 * server instance, so every instance receives the same sequence from its first request on.
 * `poolSize` (optional) wraps the cursor, for benchmarks that want repeats (a cache's hit path).
 */
export class QueryCursor {
  private index = 0;

  constructor(
    private readonly generator: QueryGenerator,
    private readonly poolSize?: number,
  ) {}

  next(): string {
    const i = this.poolSize ? this.index % this.poolSize : this.index;
    this.index++;
    return this.generator.at(i);
  }

  /** How many queries were handed out so far. */
  get used(): number {
    return this.index;
  }
}
