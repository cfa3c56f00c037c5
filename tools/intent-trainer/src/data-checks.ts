import type { Example } from './dataset';

/** Lower-cased, whitespace runs collapsed to one space, trimmed: the form every check compares. */
export function normaliseForComparison(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

/**
 * Character 4-gram sets as sorted integer ids. Interning each distinct 4-gram to an integer
 * (instead of hashing) keeps the Jaccard exact while the comparisons run on Int32Arrays.
 */
export class FourGramIndex {
  private readonly ids = new Map<string, number>();

  gramSet(text: string): Int32Array {
    const s = normaliseForComparison(text);
    const grams = new Set<number>();
    if (s.length < 4) grams.add(this.intern(s));
    for (let i = 0; i + 4 <= s.length; i++)
      grams.add(this.intern(s.slice(i, i + 4)));
    return Int32Array.from(grams).sort();
  }

  /** Number of distinct 4-grams interned so far; ids are 0..size-1. */
  get size(): number {
    return this.ids.size;
  }

  private intern(gram: string): number {
    let id = this.ids.get(gram);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(gram, id);
    }
    return id;
  }
}

/** Jaccard similarity of two sorted id sets. */
export function jaccard(a: Int32Array, b: Int32Array): number {
  let i = 0;
  let j = 0;
  let common = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      common++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  const union = a.length + b.length - common;
  return union === 0 ? 1 : common / union;
}

export interface NearDuplicate {
  train: Example;
  validation: Example;
  jaccard: number;
}

/**
 * Every (train, validation) pair whose 4-gram Jaccard is >= threshold, in validation order.
 *
 * Two filters keep this from comparing all |train| x |validation| pairs:
 * - size: J(A,B) <= min(|A|,|B|) / max(|A|,|B|), so only training sets with a size in
 *   [threshold*|B|, |B|/threshold] can qualify;
 * - prefix: with grams ordered rarest first, a pair with J >= t must share a gram among the
 *   first |X| - ceil(t*|X|) + 1 grams of each set (all-pairs prefix filtering), so only the
 *   training rows indexed under a validation set's prefix grams are candidates.
 * Candidates are then scored exactly.
 */
export function findNearDuplicates(
  train: readonly Example[],
  validation: readonly Example[],
  threshold = 0.7,
): NearDuplicate[] {
  const index = new FourGramIndex();
  const trainSets = train.map((e) => index.gramSet(e.text));
  const validationSets = validation.map((e) => index.gramSet(e.text));
  // Rank grams rarest first (ties by id) and rewrite every set as sorted ranks.
  const df = new Int32Array(index.size);
  for (const set of [...trainSets, ...validationSets])
    for (const g of set) df[g]++;
  const order = Int32Array.from(df.keys()).sort(
    (a, b) => df[a] - df[b] || a - b,
  );
  const rank = new Int32Array(index.size);
  order.forEach((g, r) => (rank[g] = r));
  const toRanks = (set: Int32Array): Int32Array =>
    set.map((g) => rank[g]).sort();
  const trainRanks = trainSets.map(toRanks);
  const prefixLength = (size: number): number =>
    size - Math.ceil(threshold * size - 1e-9) + 1;

  const postings = new Map<number, number[]>();
  trainRanks.forEach((set, row) => {
    for (let p = 0; p < prefixLength(set.length); p++) {
      const list = postings.get(set[p]);
      if (list) list.push(row);
      else postings.set(set[p], [row]);
    }
  });

  const seen = new Int32Array(train.length).fill(-1);
  const found: NearDuplicate[] = [];
  validationSets.forEach((set, v) => {
    const vs = toRanks(set);
    const minSize = threshold * vs.length - 1e-9;
    const maxSize = vs.length / threshold + 1e-9;
    const candidates: number[] = [];
    for (let p = 0; p < prefixLength(vs.length); p++) {
      for (const row of postings.get(vs[p]) ?? []) {
        const size = trainRanks[row].length;
        if (seen[row] === v || size < minSize || size > maxSize) continue;
        seen[row] = v;
        candidates.push(row);
      }
    }
    candidates.sort((a, b) => a - b);
    for (const row of candidates) {
      const j = jaccard(trainRanks[row], vs);
      if (j >= threshold)
        found.push({
          train: train[row],
          validation: validation[v],
          jaccard: j,
        });
    }
  });
  return found;
}

/** Examples whose text contains a label name verbatim (case-insensitive): they leak the answer. */
export function findLabelNamesInText(
  examples: readonly Example[],
  labels: readonly string[],
): Array<{ example: Example; label: string }> {
  const lowered = labels.map((l) => l.toLowerCase());
  const out: Array<{ example: Example; label: string }> = [];
  for (const example of examples) {
    const text = example.text.toLowerCase();
    lowered.forEach((l, i) => {
      if (text.includes(l)) out.push({ example, label: labels[i] });
    });
  }
  return out;
}

export function findUnknownLabels(
  examples: readonly Example[],
  labels: readonly string[],
): Example[] {
  const known = new Set(labels);
  return examples.filter((e) => !known.has(e.label));
}

export function countPerLabel(
  examples: readonly Example[],
  labels: readonly string[],
): Map<string, number> {
  const counts = new Map<string, number>(labels.map((l) => [l, 0]));
  for (const e of examples) counts.set(e.label, (counts.get(e.label) ?? 0) + 1);
  return counts;
}

/** Labels with fewer than `minimum` examples. */
export function findThinLabels(
  examples: readonly Example[],
  labels: readonly string[],
  minimum: number,
): Array<{ label: string; count: number }> {
  return [...countPerLabel(examples, labels)]
    .filter(([label, count]) => labels.includes(label) && count < minimum)
    .map(([label, count]) => ({ label, count }));
}

/** Groups of two or more examples (from any split) whose normalised texts are identical. */
export function findExactDuplicates(examples: readonly Example[]): Example[][] {
  const groups = new Map<string, Example[]>();
  for (const e of examples) {
    const key = normaliseForComparison(e.text);
    const group = groups.get(key);
    if (group) group.push(e);
    else groups.set(key, [e]);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}
