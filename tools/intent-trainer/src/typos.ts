import { fnv1a, mulberry32 } from './sources';

/**
 * Seeded, realistic keyboard typos of customer queries: a typo'd copy of a validation split
 * measures how robust the classifier is to misspelt input, and the same edits can augment
 * training data.
 *
 * Four kinds of edit, each touching ASCII letters only (a-z, A-Z):
 * - swap: two adjacent letters exchanged ("form" -> "from"); both must be letters, so a swap never
 *   crosses a space, digit, punctuation mark or non-ASCII character, and they must differ;
 * - drop: a letter left out ("card" -> "crd"), never a whole one-letter word ("I", "a");
 * - double: a letter typed twice ("card" -> "caard");
 * - substitute: a letter replaced by one of its neighbours on a US QWERTY keyboard ("card" ->
 *   "cars"), keeping its case ("Card" -> "Vard").
 * Spaces, digits, punctuation and non-ASCII characters (é, emoji) are copied unchanged, so a
 * surrogate pair is never split and the result is always well-formed if the input was.
 *
 * How many edits: for a text of L characters (Unicode code points) the target is L * rate (rate
 * defaults to TYPO_RATE, one edit per 12 characters), and the count is floor(L * rate) plus one
 * more with probability equal to the fractional part, so its expectation is exactly L * rate with
 * the least possible spread (a 30-character query gets 2 edits half the time and 3 the other
 * half; one under 12 characters gets 0 or 1). The count is capped by what fits: edits never share
 * or touch a character (two edits are always at least one character apart), so a text without
 * letters is returned unchanged and a short word takes at most a few edits.
 *
 * The kind of each edit is drawn by TYPO_KIND_WEIGHTS among the kinds that still have a place to
 * go (a one-letter word can be neither swapped nor dropped, nor "ll" swapped), then its place
 * uniformly among that kind's places, so edits spread over the text rather than piling up.
 *
 * Everything is pure integer and IEEE arithmetic on mulberry32's output: the same text, seed and
 * options give the same result on any machine.
 */

/** The default edit rate: one edit per 12 characters on average. */
export const TYPO_RATE = 1 / 12;

export type TypoKind = 'swap' | 'drop' | 'double' | 'substitute';

/** The kinds in the order their weights are laid out for a draw (part of the draw contract). */
export const TYPO_KINDS: readonly TypoKind[] = [
  'swap',
  'drop',
  'double',
  'substitute',
];

/**
 * Default relative frequencies of the kinds, roughly those of typing errors in the literature:
 * wrong key most often, then a left-out letter, then doubled and transposed letters.
 */
export const TYPO_KIND_WEIGHTS: Readonly<Record<TypoKind, number>> = {
  swap: 0.2,
  drop: 0.25,
  double: 0.2,
  substitute: 0.35,
};

export interface TypoOptions {
  /** Edits per character (code point) on average; default TYPO_RATE (1/12). Must be finite and >= 0. */
  rate?: number;
  /** Relative weights of the kinds; a kind left out keeps its default, one set to 0 never occurs. */
  weights?: Partial<Record<TypoKind, number>>;
}

/**
 * One edit, by its UTF-16 index in the input text (always an ASCII letter there). A swap
 * exchanges text[at] and text[at + 1]; a substitution writes `to` in place of text[at].
 */
export type TypoEdit =
  | { kind: 'swap'; at: number }
  | { kind: 'drop'; at: number }
  | { kind: 'double'; at: number }
  | { kind: 'substitute'; at: number; to: string };

export interface TypoResult {
  text: string;
  /** The edits made, by increasing `at`. */
  edits: TypoEdit[];
}

/**
 * Neighbouring letter keys on a US QWERTY keyboard (letters only: digits and punctuation keys are
 * left out). With the rows staggered by a quarter and a half key (q at 0, a at 0.25, z at 0.75),
 * a key touches the keys either side of it in its row and the two overlapping it in each adjacent
 * row, e.g. s touches a and d, w and e above, z and x below.
 */
export const QWERTY_NEIGHBOURS: Readonly<Record<string, string>> = {
  q: 'wa',
  w: 'qeas',
  e: 'wrsd',
  r: 'etdf',
  t: 'ryfg',
  y: 'tugh',
  u: 'yihj',
  i: 'uojk',
  o: 'ipkl',
  p: 'ol',
  a: 'sqwz',
  s: 'adwezx',
  d: 'sferxc',
  f: 'dgrtcv',
  g: 'fhtyvb',
  h: 'gjyubn',
  j: 'hkuinm',
  k: 'jliom',
  l: 'kop',
  z: 'xas',
  x: 'zcsd',
  c: 'xvdf',
  v: 'cbfg',
  b: 'vngh',
  n: 'bmhj',
  m: 'njk',
};

/** Whether the UTF-16 code unit at i is an ASCII letter, the only characters edited. */
function isLetterAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** A neighbouring key of an ASCII letter, chosen by u in [0, 1), in the letter's case. */
function neighbourOf(letter: string, u: number): string {
  const lower = letter.toLowerCase();
  const keys = QWERTY_NEIGHBOURS[lower];
  const key = keys[Math.min(keys.length - 1, Math.floor(u * keys.length))];
  return letter === lower ? key : key.toUpperCase();
}

/** Index into a list of n by a draw u in [0, 1), safe against a custom random returning 1. */
function pick(n: number, u: number): number {
  return Math.min(n - 1, Math.floor(u * n));
}

function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A low surrogate after a high one is the second half of the same code point.
    if (
      c >= 0xdc00 &&
      c <= 0xdfff &&
      i > 0 &&
      text.charCodeAt(i - 1) >= 0xd800 &&
      text.charCodeAt(i - 1) <= 0xdbff
    )
      continue;
    n++;
  }
  return n;
}

function resolveWeights(options: TypoOptions): number[] {
  const weights = TYPO_KINDS.map(
    (kind) => options.weights?.[kind] ?? TYPO_KIND_WEIGHTS[kind],
  );
  if (weights.some((w) => !(Number.isFinite(w) && w >= 0)))
    throw new RangeError(
      `typo kind weights must be finite and >= 0, got ${JSON.stringify(options.weights)}`,
    );
  if (!weights.some((w) => w > 0))
    throw new RangeError('at least one typo kind needs a weight above 0');
  return weights;
}

function resolveRate(options: TypoOptions): number {
  const rate = options.rate ?? TYPO_RATE;
  if (!(Number.isFinite(rate) && rate >= 0))
    throw new RangeError(`typo rate must be a finite number >= 0, got ${rate}`);
  return rate;
}

/**
 * The number of edits for a text of `length` characters: floor(length * rate) plus a Bernoulli
 * draw of the fractional part (one call to random, always), so its expectation is length * rate.
 */
export function typoCount(
  length: number,
  rate: number,
  random: () => number,
): number {
  const target = length * rate;
  const whole = Math.floor(target);
  return whole + (random() < target - whole ? 1 : 0);
}

/**
 * Typos of one text, with the edits made. Calls to random, in order (the contract the spec relies
 * on): one for the count (typoCount); then per edit one for the kind (cumulative weights, in
 * TYPO_KINDS order, over the kinds that still have a place), one for its place, and for a
 * substitution one for the neighbouring key. It stops early once no kind has a place left.
 */
export function addTyposDetailed(
  text: string,
  random: () => number,
  options: TypoOptions = {},
): TypoResult {
  const rate = resolveRate(options);
  const weights = resolveWeights(options);
  const count = typoCount(codePointLength(text), rate, random);

  // free[i]: text[i] is a letter no edit has touched or come next to yet.
  const free: boolean[] = [];
  for (let i = 0; i < text.length; i++) free.push(isLetterAt(text, i));

  const edits: TypoEdit[] = [];
  while (edits.length < count) {
    const letters: number[] = [];
    const inWords: number[] = [];
    const pairs: number[] = [];
    for (let i = 0; i < text.length; i++) {
      if (!free[i]) continue;
      letters.push(i);
      if (isLetterAt(text, i - 1) || isLetterAt(text, i + 1)) inWords.push(i);
      if (free[i + 1] && text[i] !== text[i + 1]) pairs.push(i);
    }
    if (letters.length === 0) break;
    const places = TYPO_KINDS.map((kind) =>
      kind === 'swap' ? pairs : kind === 'drop' ? inWords : letters,
    );
    const open = weights.map((w, k) => (places[k].length > 0 ? w : 0));
    const total = open.reduce((a, b) => a + b, 0);
    if (total === 0) break;

    // The first open kind whose cumulative weight passes u (the last open one if rounding runs past).
    let u = random() * total;
    let k = -1;
    for (let j = 0; j < open.length; j++) {
      if (open[j] === 0) continue;
      k = j;
      if (u < open[j]) break;
      u -= open[j];
    }
    const kind = TYPO_KINDS[k];
    const at = places[k][pick(places[k].length, random())];
    const last = kind === 'swap' ? at + 1 : at;

    if (kind === 'substitute')
      edits.push({ kind, at, to: neighbourOf(text[at], random()) });
    else edits.push({ kind, at });
    for (let i = Math.max(0, at - 1); i <= last + 1 && i < text.length; i++)
      free[i] = false;
  }

  edits.sort((a, b) => a.at - b.at);
  return { text: applyEdits(text, edits), edits };
}

/** Writes the edits (by increasing `at`, none overlapping) into the text, copying the rest. */
function applyEdits(text: string, edits: readonly TypoEdit[]): string {
  let out = '';
  let from = 0;
  for (const edit of edits) {
    out += text.slice(from, edit.at);
    const letter = text[edit.at];
    switch (edit.kind) {
      case 'swap':
        out += text[edit.at + 1] + letter;
        from = edit.at + 2;
        continue;
      case 'drop':
        break;
      case 'double':
        out += letter + letter;
        break;
      case 'substitute':
        out += edit.to;
        break;
    }
    from = edit.at + 1;
  }
  return out + text.slice(from);
}

/** Typos of one text (see addTyposDetailed for the calls made to random). */
export function addTypos(
  text: string,
  random: () => number,
  options: TypoOptions = {},
): string {
  return addTyposDetailed(text, random, options).text;
}

/** The 32-bit PRNG seed typoCopy uses for a text: FNV-1a of the text, from a basis mixed with the seed. */
export function typoSeed(text: string, seed: number): number {
  return fnv1a(text, fnv1a('typos\u0000', (seed ^ 0x811c9dc5) >>> 0));
}

/**
 * A typo'd copy of examples: each example shallow-copied with its text run through addTypos,
 * in the same order. Each text's typos come from mulberry32(typoSeed(text, seed)), so they depend
 * on the seed (as a 32-bit integer) and that text only, not on its index or on the other examples:
 * shuffling, filtering or extending the list leaves every other example's typos as they were, and
 * two examples with the same text get the same typos. Short texts may come back unchanged (a
 * text under 12 characters gets an edit with probability L/12 at the default rate).
 */
export function typoCopy<T extends { text: string }>(
  examples: readonly T[],
  seed: number,
  options: TypoOptions = {},
): T[] {
  resolveRate(options);
  resolveWeights(options);
  return examples.map((e) => ({
    ...e,
    text: addTypos(e.text, mulberry32(typoSeed(e.text, seed)), options),
  }));
}
