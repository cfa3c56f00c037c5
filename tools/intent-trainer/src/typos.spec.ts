import { join } from 'node:path';
import { readSplit } from './dataset';
import { fnv1a, mulberry32 } from './sources';
import {
  QWERTY_NEIGHBOURS,
  TYPO_KINDS,
  TYPO_KIND_WEIGHTS,
  TYPO_RATE,
  addTypos,
  addTyposDetailed,
  typoCopy,
  typoCount,
  typoSeed,
  type TypoEdit,
  type TypoKind,
  type TypoOptions,
} from './typos';

const DATA_DIR = join(__dirname, '..', 'data');
const LETTER = /[A-Za-z]/;
const ONLY = (kind: TypoKind): TypoOptions => ({
  weights: { swap: 0, drop: 0, double: 0, substitute: 0, [kind]: 1 },
});

/** A random that returns the given draws in order and fails the test if asked for more. */
function draws(...values: number[]): () => number {
  let i = 0;
  return () => {
    if (i >= values.length)
      throw new Error(
        `random called ${i + 1} times, only ${values.length} draws given`,
      );
    return values[i++];
  };
}

/** Unpaired surrogates: what splitting a surrogate pair would leave behind. */
function isWellFormed(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(
    text,
  );
}

function codePoints(text: string): number {
  return [...text].length;
}

/** Optimal string alignment distance (Damerau-Levenshtein without re-editing a transposed pair). */
function osa(aText: string, bText: string): number {
  const a = Uint16Array.from({ length: aText.length }, (_, i) =>
    aText.charCodeAt(i),
  );
  const b = Uint16Array.from({ length: bText.length }, (_, i) =>
    bText.charCodeAt(i),
  );
  let before = new Int32Array(b.length + 1);
  let previous = Int32Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = previous[j - 1] + cost;
      if (previous[j] + 1 < d) d = previous[j] + 1;
      if (current[j - 1] + 1 < d) d = current[j - 1] + 1;
      if (
        i > 1 &&
        j > 1 &&
        a[i - 1] === b[j - 2] &&
        a[i - 2] === b[j - 1] &&
        before[j - 2] + 1 < d
      )
        d = before[j - 2] + 1;
      current[j] = d;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length];
}

/**
 * What is wrong with one result, checked independently of the implementation: every edit is at an
 * ASCII letter and has its kind's shape, edits are sorted and at least one character apart, and
 * the output is the input with exactly those edits written in. (One expect per result: the
 * property checks run it on thousands of results.)
 */
function problems(input: string, output: string, edits: TypoEdit[]): string[] {
  const found: string[] = [];
  const isLetter = (i: number): boolean => LETTER.test(input[i] ?? '');
  let expected = '';
  let from = 0;
  let previousEnd = -2;
  for (const edit of edits) {
    const where = `${JSON.stringify(input)} ${JSON.stringify(edit)}`;
    const letter = input[edit.at];
    if (!isLetter(edit.at)) found.push(`${where}: not at a letter`);
    if (edit.at <= previousEnd + 1)
      found.push(`${where}: touches the edit before`);
    expected += input.slice(from, edit.at);
    from = edit.at + 1;
    switch (edit.kind) {
      case 'swap': {
        const next = input[edit.at + 1];
        if (!isLetter(edit.at + 1))
          found.push(`${where}: swaps across a non-letter`);
        if (next === letter) found.push(`${where}: swaps identical letters`);
        expected += next + letter;
        from = edit.at + 2;
        break;
      }
      case 'drop':
        if (!isLetter(edit.at - 1) && !isLetter(edit.at + 1))
          found.push(`${where}: drops a one-letter word`);
        break;
      case 'double':
        expected += letter + letter;
        break;
      case 'substitute': {
        const lower = letter.toLowerCase();
        const upper = letter !== lower;
        if (
          !/^[A-Za-z]$/.test(edit.to) ||
          !QWERTY_NEIGHBOURS[lower].includes(edit.to.toLowerCase())
        )
          found.push(`${where}: not a neighbouring key`);
        if ((edit.to !== edit.to.toLowerCase()) !== upper)
          found.push(`${where}: changes case`);
        expected += edit.to;
        break;
      }
    }
    previousEnd = from - 1;
  }
  expected += input.slice(from);
  if (output !== expected)
    found.push(
      `${JSON.stringify(input)}: got ${JSON.stringify(output)}, edits give ${JSON.stringify(expected)}`,
    );
  return found;
}

const VOCABULARY = (
  'my card account transfer payment money the a to I is for when how can why has not ' +
  'been arrived yet pending refund exchange rate fee charged twice top up cash withdrawal ' +
  'ATM PIN blocked lost stolen verify identity address change cancel declined apple pay ' +
  'google wallet virtual disposable limit statement balance salary received international ' +
  'Euro GBP USD café résumé naïve Zürich please help urgent today yesterday'
).split(' ');
const EXTRAS = [
  '£20',
  '$100',
  '3',
  '2024',
  '😀',
  '☕',
  '🇬🇧',
  '—',
  '(new)',
  "isn't",
  'e-mail',
];

/** Seeded synthetic customer queries: words, numbers, emoji and punctuation, 3-16 tokens each. */
function syntheticCorpus(n: number, seed: number): string[] {
  const random = mulberry32(seed);
  const pickOf = <T>(list: readonly T[]): T =>
    list[Math.floor(random() * list.length)];
  const texts: string[] = [];
  for (let t = 0; t < n; t++) {
    const words: string[] = [];
    const length = 3 + Math.floor(random() * 14);
    for (let w = 0; w < length; w++) {
      let word = random() < 0.08 ? pickOf(EXTRAS) : pickOf(VOCABULARY);
      if (random() < 0.06) word += ',';
      words.push(word);
    }
    words[0] = words[0][0].toUpperCase() + words[0].slice(1);
    texts.push(words.join(' ') + pickOf(['?', '.', '!', '', '??']));
  }
  return texts;
}

describe('QWERTY_NEIGHBOURS', () => {
  const rows = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm'];
  const stagger = [0, 0.25, 0.75];
  const position = new Map<string, { row: number; x: number }>();
  rows.forEach((keys, row) =>
    [...keys].forEach((key, i) =>
      position.set(key, { row, x: i + stagger[row] }),
    ),
  );

  it('has every letter a-z and nothing else', () => {
    expect(Object.keys(QWERTY_NEIGHBOURS).sort().join('')).toBe(
      'abcdefghijklmnopqrstuvwxyz',
    );
  });

  it('lists lower-case letters, distinct, never the key itself', () => {
    for (const [key, neighbours] of Object.entries(QWERTY_NEIGHBOURS)) {
      expect(neighbours).toMatch(/^[a-z]+$/);
      expect(new Set(neighbours).size).toBe(neighbours.length);
      expect(neighbours).not.toContain(key);
      expect(neighbours.length).toBeGreaterThanOrEqual(2);
      expect(neighbours.length).toBeLessThanOrEqual(6);
    }
  });

  it('is symmetric', () => {
    for (const [key, neighbours] of Object.entries(QWERTY_NEIGHBOURS))
      for (const other of neighbours)
        expect([other, QWERTY_NEIGHBOURS[other]]).toEqual([
          other,
          expect.stringContaining(key),
        ]);
  });

  it('is exactly the physically adjacent letter keys of the staggered layout', () => {
    for (const [key, neighbours] of Object.entries(QWERTY_NEIGHBOURS)) {
      const p = position.get(key);
      if (!p) throw new Error(key);
      const adjacent = [...position]
        .filter(([other, q]) => {
          if (other === key) return false;
          const dx = Math.abs(q.x - p.x);
          if (q.row === p.row) return dx === 1;
          return Math.abs(q.row - p.row) === 1 && dx <= 0.75;
        })
        .map(([other]) => other);
      expect([key, [...neighbours].sort().join('')]).toEqual([
        key,
        adjacent.sort().join(''),
      ]);
    }
  });

  it('spot-checks a few keys', () => {
    expect([...QWERTY_NEIGHBOURS['s']].sort().join('')).toBe('adewxz');
    expect([...QWERTY_NEIGHBOURS['q']].sort().join('')).toBe('aw');
    expect([...QWERTY_NEIGHBOURS['p']].sort().join('')).toBe('lo');
    expect([...QWERTY_NEIGHBOURS['m']].sort().join('')).toBe('jkn');
    expect([...QWERTY_NEIGHBOURS['g']].sort().join('')).toBe('bfhtvy');
  });
});

describe('constants', () => {
  it('TYPO_RATE is one edit per 12 characters', () => {
    expect(TYPO_RATE).toBe(1 / 12);
  });

  it('kind weights cover the kinds and sum to 1', () => {
    expect([...TYPO_KINDS].sort()).toEqual([
      'double',
      'drop',
      'substitute',
      'swap',
    ]);
    expect(Object.keys(TYPO_KIND_WEIGHTS).sort()).toEqual(
      [...TYPO_KINDS].sort(),
    );
    expect(
      TYPO_KINDS.reduce((sum, k) => sum + TYPO_KIND_WEIGHTS[k], 0),
    ).toBeCloseTo(1, 12);
  });
});

describe('typoCount', () => {
  it('is floor(L * rate) plus a Bernoulli draw of the remainder', () => {
    expect(typoCount(0, TYPO_RATE, draws(0))).toBe(0);
    expect(typoCount(12, TYPO_RATE, draws(0))).toBe(1);
    expect(typoCount(12, TYPO_RATE, draws(0.999))).toBe(1);
    expect(typoCount(24, TYPO_RATE, draws(0.5))).toBe(2);
    expect(typoCount(6, TYPO_RATE, draws(0.49))).toBe(1);
    expect(typoCount(6, TYPO_RATE, draws(0.5))).toBe(0);
    expect(typoCount(30, TYPO_RATE, draws(0.49))).toBe(3);
    expect(typoCount(30, TYPO_RATE, draws(0.51))).toBe(2);
    expect(typoCount(1, TYPO_RATE, draws(1 / 12 - 1e-9))).toBe(1);
    expect(typoCount(1, TYPO_RATE, draws(1 / 12 + 1e-9))).toBe(0);
    expect(typoCount(10, 0, draws(0))).toBe(0);
  });

  it('is exact, not off by one, for every multiple of 12 up to 12,000', () => {
    for (let k = 0; k <= 1000; k++)
      expect(typoCount(12 * k, TYPO_RATE, () => 0.999999)).toBe(k);
  });

  it('has expectation L * rate', () => {
    const random = mulberry32(5);
    for (const length of [1, 7, 13, 30, 100]) {
      let sum = 0;
      const n = 20_000;
      for (let i = 0; i < n; i++) sum += typoCount(length, TYPO_RATE, random);
      expect(Math.abs(sum / n - length / 12)).toBeLessThan(0.01);
    }
  });

  it('calls random exactly once', () => {
    let calls = 0;
    typoCount(50, TYPO_RATE, () => {
      calls++;
      return 0.3;
    });
    expect(calls).toBe(1);
  });
});

describe('each edit kind, with a controlled random', () => {
  // 12 letters: exactly one edit; the count draw (first) does not matter.
  const text = 'abcdefghijkl';

  it('swap exchanges two adjacent letters', () => {
    expect(addTyposDetailed(text, draws(0.5, 0, 0), ONLY('swap'))).toEqual({
      text: 'bacdefghijkl',
      edits: [{ kind: 'swap', at: 0 }],
    });
    // 11 pairs: draw 0.99 takes the last, (k, l).
    expect(addTyposDetailed(text, draws(0.5, 0, 0.99), ONLY('swap'))).toEqual({
      text: 'abcdefghijlk',
      edits: [{ kind: 'swap', at: 10 }],
    });
  });

  it('drop leaves a letter out', () => {
    // 12 letters: draw 0.5 takes index 6, g.
    expect(addTyposDetailed(text, draws(0.5, 0, 0.5), ONLY('drop'))).toEqual({
      text: 'abcdefhijkl',
      edits: [{ kind: 'drop', at: 6 }],
    });
  });

  it('double types a letter twice', () => {
    expect(addTyposDetailed(text, draws(0.5, 0, 0.5), ONLY('double'))).toEqual({
      text: 'abcdefgghijkl',
      edits: [{ kind: 'double', at: 6 }],
    });
  });

  it('substitute writes a neighbouring key', () => {
    // g's neighbours are "fhtyvb": draw 0 takes f, 0.99 takes b.
    expect(
      addTyposDetailed(text, draws(0.5, 0, 0.5, 0), ONLY('substitute')),
    ).toEqual({
      text: 'abcdeffhijkl',
      edits: [{ kind: 'substitute', at: 6, to: 'f' }],
    });
    expect(
      addTyposDetailed(text, draws(0.5, 0, 0.5, 0.99), ONLY('substitute')).text,
    ).toBe('abcdefbhijkl');
  });

  it('substitute can write every neighbour of every letter, in its case', () => {
    for (const [key, neighbours] of Object.entries(QWERTY_NEIGHBOURS))
      for (let j = 0; j < neighbours.length; j++) {
        const u = (j + 0.5) / neighbours.length;
        // "KEY" repeated to 12 characters, the edit at index 0.
        const lower = key.repeat(12);
        expect(addTypos(lower, draws(0.5, 0, 0, u), ONLY('substitute'))).toBe(
          neighbours[j] + key.repeat(11),
        );
        const upper = lower.toUpperCase();
        expect(addTypos(upper, draws(0.5, 0, 0, u), ONLY('substitute'))).toBe(
          neighbours[j].toUpperCase() + upper.slice(1),
        );
      }
  });

  it('draws the kind by cumulative default weights in TYPO_KINDS order', () => {
    // swap [0, 0.2), drop [0.2, 0.45), double [0.45, 0.65), substitute [0.65, 1)
    const kindFor = (u: number): TypoKind =>
      addTyposDetailed(text, draws(0.5, u, 0.5, 0.5)).edits[0].kind;
    expect(kindFor(0)).toBe('swap');
    expect(kindFor(0.19)).toBe('swap');
    expect(kindFor(0.21)).toBe('drop');
    expect(kindFor(0.44)).toBe('drop');
    expect(kindFor(0.46)).toBe('double');
    expect(kindFor(0.64)).toBe('double');
    expect(kindFor(0.66)).toBe('substitute');
    expect(kindFor(0.999999)).toBe('substitute');
  });

  it('falls back to the kinds that have a place: one-letter words are neither swapped nor dropped', () => {
    // Twelve one-letter words: swap and drop have nowhere to go, double and substitute share 0.55.
    const words = 'a b c d e f ';
    expect(addTyposDetailed(words, draws(0.5, 0, 0)).edits).toEqual([
      { kind: 'double', at: 0 },
    ]);
    // 0.2 / 0.55 of the way is still double; past 0.2 / 0.55 is substitute.
    expect(addTyposDetailed(words, draws(0.5, 0.36, 0)).edits[0].kind).toBe(
      'double',
    );
    expect(addTyposDetailed(words, draws(0.5, 0.37, 0, 0)).edits[0].kind).toBe(
      'substitute',
    );
    expect(addTyposDetailed(words, draws(0.5, 0, 0), ONLY('drop'))).toEqual({
      text: words,
      edits: [],
    });
    expect(addTyposDetailed(words, draws(0.5, 0, 0), ONLY('swap'))).toEqual({
      text: words,
      edits: [],
    });
  });

  it('never swaps identical letters', () => {
    expect(addTyposDetailed('aaaaaaaaaaaa', draws(0.5), ONLY('swap'))).toEqual({
      text: 'aaaaaaaaaaaa',
      edits: [],
    });
    // "aab": only the pair (a, b) can swap.
    expect(
      addTyposDetailed('aab aab aab ', draws(0.5, 0, 0), ONLY('swap')).text,
    ).toBe('aba aab aab ');
  });

  it('swaps letters of different case as they are', () => {
    expect(addTypos('Abcdefghijkl', draws(0.5, 0, 0), ONLY('swap'))).toBe(
      'bAcdefghijkl',
    );
  });

  it('keeps two edits at least one character apart', () => {
    // 24 letters, 2 edits: the first doubles index 0, which closes 0 and 1; the second draw 0
    // then takes index 2.
    const result = addTyposDetailed(
      'abcdefghijklmnopqrstuvwx',
      draws(0.5, 0, 0, 0, 0),
      ONLY('double'),
    );
    expect(result.edits).toEqual([
      { kind: 'double', at: 0 },
      { kind: 'double', at: 2 },
    ]);
    expect(result.text).toBe('aabccdefghijklmnopqrstuvwx');
  });

  it('reports edits by increasing position whatever the order they were made in', () => {
    const result = addTyposDetailed(
      'abcdefghijklmnopqrstuvwx',
      draws(0.5, 0, 0.99, 0, 0),
      ONLY('drop'),
    );
    expect(result.edits).toEqual([
      { kind: 'drop', at: 0 },
      { kind: 'drop', at: 23 },
    ]);
    expect(result.text).toBe('bcdefghijklmnopqrstuvw');
  });

  it('stops when the text has no room for more edits', () => {
    // Rate 1 asks for 3 edits of "abc": a double of b fills it (draw 0.5 takes index 1).
    expect(
      addTyposDetailed('abc', draws(0.5, 0, 0.5), {
        rate: 1,
        ...ONLY('double'),
      }),
    ).toEqual({
      text: 'abbc',
      edits: [{ kind: 'double', at: 1 }],
    });
    // Edits one character apart: "ab" fits 1, "abc" 2 (at 0 and 2), "abcde" 3, whatever the seed.
    for (let seed = 0; seed < 200; seed++) {
      expect(
        addTyposDetailed('ab', mulberry32(seed), { rate: 1 }).edits,
      ).toHaveLength(1);
      expect(
        addTyposDetailed('abc', mulberry32(seed), { rate: 1 }).edits.length,
      ).toBeLessThanOrEqual(2);
      expect(
        addTyposDetailed('abcde', mulberry32(seed), { rate: 1 }).edits.length,
      ).toBeLessThanOrEqual(3);
    }
  });
});

describe('determinism', () => {
  const text =
    'My new card came today, how do I get it working? It says PIN blocked.';

  it('the same seed gives the same output', () => {
    for (let seed = 0; seed < 50; seed++)
      expect(addTyposDetailed(text, mulberry32(seed))).toEqual(
        addTyposDetailed(text, mulberry32(seed)),
      );
  });

  it('different seeds give different outputs', () => {
    const outputs = new Set<string>();
    for (let seed = 0; seed < 100; seed++)
      outputs.add(addTypos(text, mulberry32(seed)));
    expect(outputs.size).toBeGreaterThanOrEqual(98);
    expect(outputs.has(text)).toBe(false);
  });

  it('pins exact outputs (same on any machine)', () => {
    expect(addTyposDetailed(text, mulberry32(42))).toEqual({
      text: 'My new carr came today, how od U get it woring? It days PI blocked.',
      edits: [
        { kind: 'substitute', at: 10, to: 'r' },
        { kind: 'swap', at: 28 },
        { kind: 'substitute', at: 31, to: 'U' },
        { kind: 'drop', at: 43 },
        { kind: 'substitute', at: 52, to: 'd' },
        { kind: 'drop', at: 59 },
      ],
    });
    expect(
      typoCopy([{ text: 'Where in the app do I switch on my new card?' }], 7),
    ).toEqual([{ text: 'Where in the app fo I switcj no my nwe card?' }]);
    expect(typoSeed('hello', 1)).toBe(1034605167);
  });

  it('does not depend on anything but its arguments', () => {
    const first = addTypos(text, mulberry32(3));
    for (let i = 0; i < 10; i++) addTypos(text + i, mulberry32(i));
    expect(addTypos(text, mulberry32(3))).toBe(first);
  });
});

describe('what is never edited', () => {
  const corpus = syntheticCorpus(1500, 11);

  it('leaves the empty string unchanged without needing more than the count draw', () => {
    expect(addTyposDetailed('', draws(0.5))).toEqual({ text: '', edits: [] });
  });

  it('leaves texts without ASCII letters unchanged, even at a high rate', () => {
    const texts = [
      '1234567890',
      '  ',
      '!!! ??? ...',
      '£20 — 3/4 (2024)',
      '😀😀😀 ☕ 🇬🇧',
      'é à ñ ü ß ø',
      '日本語のテキスト',
      '42\t\n7',
    ];
    for (const t of texts)
      for (let seed = 0; seed < 20; seed++) {
        expect(addTyposDetailed(t, mulberry32(seed), { rate: 1 })).toEqual({
          text: t,
          edits: [],
        });
        expect(addTypos(t, mulberry32(seed))).toBe(t);
      }
  });

  it('keeps every non-letter character, in order', () => {
    corpus.forEach((t, i) => {
      const out = addTypos(t, mulberry32(i), { rate: 0.3 });
      expect(out.replace(/[A-Za-z]/g, '')).toBe(t.replace(/[A-Za-z]/g, ''));
    });
  });

  it('keeps the case of every letter it writes', () => {
    const upper = 'PLEASE HELP MY CARD WAS DECLINED TWICE TODAY AT THE SHOP';
    const lower = upper.toLowerCase();
    for (let seed = 0; seed < 100; seed++) {
      expect(addTypos(upper, mulberry32(seed), { rate: 0.3 })).toMatch(
        /^[A-Z ]+$/,
      );
      expect(addTypos(lower, mulberry32(seed), { rate: 0.3 })).toMatch(
        /^[a-z ]+$/,
      );
    }
  });

  it('never splits a surrogate pair or mangles accented letters and emoji', () => {
    const texts = [
      '😀a😀b😀c😀d😀e😀f',
      'ab😀cd🇬🇧ef👍🏽gh',
      'Café résumé naïve Zürich Ångström, déjà vu',
      'my card 💳 is blocked 😡😡 help',
      'x\u{1F600}y\u{1F600}z',
    ];
    for (const t of texts)
      for (let seed = 0; seed < 200; seed++) {
        const { text: out, edits } = addTyposDetailed(t, mulberry32(seed), {
          rate: 0.5,
        });
        expect(isWellFormed(out)).toBe(true);
        expect(out.replace(/[A-Za-z]/g, '')).toBe(t.replace(/[A-Za-z]/g, ''));
        expect(problems(t, out, edits)).toEqual([]);
      }
  });

  it('counts characters as code points: emoji count once', () => {
    // 24 letters and 24 emoji are 48 characters (72 UTF-16 units): exactly 4 edits, always.
    const t = 'abcdefghijklmnopqrstuvwx' + '😀'.repeat(24);
    for (let seed = 0; seed < 50; seed++)
      expect(addTyposDetailed(t, mulberry32(seed)).edits).toHaveLength(4);
  });

  it('makes no edits at rate 0', () => {
    for (const t of corpus.slice(0, 200))
      expect(addTypos(t, mulberry32(1), { rate: 0 })).toBe(t);
  });
});

describe('every edit has its shape (property check over a synthetic corpus)', () => {
  it.each([TYPO_RATE, 0.25])('at rate %p', (rate) => {
    const found: string[] = [];
    syntheticCorpus(1500, 21).forEach((t, i) => {
      const { text: out, edits } = addTyposDetailed(t, mulberry32(i), { rate });
      found.push(...problems(t, out, edits));
      // The distance is at most the edits made (less only if edits happen to undo each other).
      if (osa(t, out) > edits.length)
        found.push(`${JSON.stringify(t)}: further than its edits`);
    });
    expect(found).toEqual([]);
  });
});

describe('rate and kinds over a large corpus', () => {
  const corpus = syntheticCorpus(6000, 31);
  const results = corpus.map((t, i) =>
    addTyposDetailed(t, mulberry32(1000 + i)),
  );
  const characters = corpus.reduce((sum, t) => sum + codePoints(t), 0);
  const edits = results.reduce((sum, r) => sum + r.edits.length, 0);

  it('averages one edit per 12 characters, within 10%', () => {
    expect(characters).toBeGreaterThan(250_000);
    expect(Math.abs(edits / characters / TYPO_RATE - 1)).toBeLessThan(0.1);
    // Tighter in fact: the cap on room almost never binds for real queries.
    expect(Math.abs(edits / characters / TYPO_RATE - 1)).toBeLessThan(0.02);
  });

  it('changes the text by as many edits, measured independently (OSA distance)', () => {
    const distance = corpus.reduce(
      (sum, t, i) => sum + osa(t, results[i].text),
      0,
    );
    expect(Math.abs(distance / characters / TYPO_RATE - 1)).toBeLessThan(0.1);
    expect(distance / edits).toBeGreaterThan(0.98);
  });

  it('follows a custom rate', () => {
    const sixth = corpus.reduce(
      (sum, t, i) =>
        sum + addTyposDetailed(t, mulberry32(i), { rate: 1 / 6 }).edits.length,
      0,
    );
    expect(Math.abs(sixth / characters / (1 / 6) - 1)).toBeLessThan(0.1);
  });

  it('gives each text floor(L/12) or one more edits', () => {
    corpus.forEach((t, i) => {
      const base = Math.floor(codePoints(t) / 12);
      expect([base, base + 1]).toContain(results[i].edits.length);
    });
  });

  it('uses every kind in about its weight', () => {
    const counts: Record<TypoKind, number> = {
      swap: 0,
      drop: 0,
      double: 0,
      substitute: 0,
    };
    for (const r of results) for (const e of r.edits) counts[e.kind]++;
    for (const kind of TYPO_KINDS) {
      const share = counts[kind] / edits;
      expect([kind, Math.abs(share - TYPO_KIND_WEIGHTS[kind]) < 0.03]).toEqual([
        kind,
        true,
      ]);
    }
  });

  it('spreads edits over the positions of the text', () => {
    // Relative position of each edit in its text: each fifth of a text gets a fair share.
    const bins = [0, 0, 0, 0, 0];
    results.forEach((r, i) => {
      for (const e of r.edits)
        bins[Math.min(4, Math.floor((e.at / corpus[i].length) * 5))]++;
    });
    for (const b of bins) expect(b / edits).toBeGreaterThan(0.15);
  });

  it('averages 1/12 on the real validation split too', () => {
    const validation = readSplit(DATA_DIR, 'validation');
    const copy = typoCopy(validation, 2024);
    const chars = validation.reduce((sum, e) => sum + codePoints(e.text), 0);
    const distance = validation.reduce(
      (sum, e, i) => sum + osa(e.text, copy[i].text),
      0,
    );
    expect(Math.abs(distance / chars / TYPO_RATE - 1)).toBeLessThan(0.1);
  });
});

describe('typoCopy', () => {
  const examples = [
    {
      label: 'card_arrival',
      text: 'When will my new card arrive in the post?',
      source: 'a:1',
    },
    {
      label: 'pin_blocked',
      text: 'My PIN is blocked after three wrong tries',
      source: 'a:2',
    },
    {
      label: 'top_up_failed',
      text: 'The top up of £50 failed twice, why?',
      source: 'a:3',
    },
    { label: 'greeting', text: 'hi', source: 'a:4' },
  ];

  it('copies every example, in order, changing only the text', () => {
    const copy = typoCopy(examples, 1);
    expect(copy).toHaveLength(examples.length);
    copy.forEach((c, i) => {
      expect(c).not.toBe(examples[i]);
      expect({ ...c, text: examples[i].text }).toEqual(examples[i]);
    });
    expect(copy.slice(0, 3).every((c, i) => c.text !== examples[i].text)).toBe(
      true,
    );
  });

  it('does not modify its input', () => {
    const before = JSON.stringify(examples);
    typoCopy(examples, 1);
    expect(JSON.stringify(examples)).toBe(before);
  });

  it('is deterministic and depends on the seed', () => {
    expect(typoCopy(examples, 5)).toEqual(typoCopy(examples, 5));
    const seeds = [1, 2, 3, 4, 5].map((s) => typoCopy(examples, s)[0].text);
    expect(new Set(seeds).size).toBe(5);
  });

  it('seeds each text from the seed and that text only, not its index or the other examples', () => {
    const all = typoCopy(examples, 9);
    const reversed = typoCopy([...examples].reverse(), 9).reverse();
    expect(reversed).toEqual(all);
    examples.forEach((e, i) => expect(typoCopy([e], 9)[0]).toEqual(all[i]));
    expect(typoCopy([...examples, ...examples], 9)).toEqual([...all, ...all]);
    expect(all[1].text).toBe(
      addTypos(examples[1].text, mulberry32(typoSeed(examples[1].text, 9))),
    );
  });

  it('passes options through', () => {
    expect(typoCopy(examples, 1, { rate: 0 })).toEqual(examples);
    const onlyDrops = typoCopy(examples, 1, ONLY('drop'));
    onlyDrops.forEach((c, i) =>
      expect(c.text.length).toBeLessThanOrEqual(examples[i].text.length),
    );
  });

  it('handles an empty list', () => {
    expect(typoCopy([], 1)).toEqual([]);
  });
});

describe('typoSeed', () => {
  it('is a 32-bit unsigned integer that depends on the text and the seed', () => {
    const seeds = new Set<number>();
    for (const text of ['', 'a', 'b', 'hello', 'hello '])
      for (const seed of [0, 1, 2, -1, 2 ** 31]) {
        const s = typoSeed(text, seed);
        expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
        seeds.add(s);
      }
    expect(seeds.size).toBe(25);
  });

  it('is FNV-1a of the text from a basis mixed with the seed', () => {
    expect(typoSeed('card', 3)).toBe(
      fnv1a('card', fnv1a('typos\u0000', (3 ^ 0x811c9dc5) >>> 0)),
    );
    // FNV-1a reference values: "" is the basis; "a" from the standard basis is 0xe40c292c.
    expect(fnv1a('', 0x811c9dc5)).toBe(0x811c9dc5);
    expect(fnv1a('a', 0x811c9dc5)).toBe(0xe40c292c);
    expect(fnv1a('foobar', 0x811c9dc5)).toBe(0xbf9cf968);
  });
});

describe('options', () => {
  it.each([-0.1, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects rate %p',
    (rate) => {
      expect(() => addTypos('hello', mulberry32(1), { rate })).toThrow(
        RangeError,
      );
      expect(() => typoCopy([], 1, { rate })).toThrow(RangeError);
    },
  );

  it('rejects negative or non-finite weights, and all weights 0', () => {
    expect(() =>
      addTypos('hello', mulberry32(1), { weights: { swap: -1 } }),
    ).toThrow(RangeError);
    expect(() =>
      addTypos('hello', mulberry32(1), { weights: { drop: Number.NaN } }),
    ).toThrow(RangeError);
    expect(() =>
      addTypos('hello', mulberry32(1), {
        weights: { swap: 0, drop: 0, double: 0, substitute: 0 },
      }),
    ).toThrow(RangeError);
    expect(() => typoCopy([], 1, { weights: { swap: -1 } })).toThrow(
      RangeError,
    );
  });

  it('keeps the default weight of a kind left out', () => {
    const counts: Record<TypoKind, number> = {
      swap: 0,
      drop: 0,
      double: 0,
      substitute: 0,
    };
    syntheticCorpus(1000, 41).forEach((t, i) => {
      for (const e of addTyposDetailed(t, mulberry32(i), {
        weights: { swap: 0 },
      }).edits)
        counts[e.kind]++;
    });
    expect(counts.swap).toBe(0);
    expect(counts.drop).toBeGreaterThan(0);
    expect(counts.double).toBeGreaterThan(0);
    expect(counts.substitute).toBeGreaterThan(counts.drop);
  });
});
