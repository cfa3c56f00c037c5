import {
  buildVocabulary,
  idf,
  ngramKeys,
  PAD,
  unpackTokens,
  WORD_END,
  WORD_START,
  type FeaturizerConfig,
  type TokenizedText,
} from './featurizer';
import { featurize, tokenize } from './onnx-features';

const config: FeaturizerConfig = {
  wordPattern: '[\\p{L}\\p{N}]+',
  wordNgrams: { min: 1, max: 2 },
  charNgrams: { min: 2, max: 4 },
  minDocumentFrequency: { word: 1, char: 1 },
  maxWordFeatures: 1000,
  maxFeatures: 5000,
  weighting: 'idf',
  wordBlockWeight: 0.5,
};

const framed = (word: string): string[] => [WORD_START, ...word, WORD_END];

describe('ngramKeys', () => {
  it('lists contiguous n-grams by length, then position', () => {
    expect(ngramKeys(['a', 'b', 'c'], 1, 2)).toEqual([
      'a',
      'b',
      'c',
      'a\u0000b',
      'b\u0000c',
    ]);
    expect(ngramKeys(['a'], 2, 3)).toEqual([]);
  });
});

describe('unpackTokens', () => {
  it('drops padding and keeps each word framed by its marks', () => {
    const words = ['hi', 'you', PAD, PAD, PAD, PAD];
    const chars = [
      ...[WORD_START, 'h', 'i', WORD_END, PAD],
      ...[WORD_START, 'y', 'o', 'u', WORD_END],
      ...[WORD_START, PAD, WORD_END, PAD, PAD],
      ...[WORD_START, PAD, WORD_END, PAD, PAD],
      ...[WORD_START, PAD, WORD_END, PAD, PAD],
      ...[WORD_START, PAD, WORD_END, PAD, PAD],
    ];
    expect(unpackTokens(words, [3, 2], chars, [3, 2, 5])).toEqual([
      { words: ['hi', 'you'], chars: [framed('hi'), framed('you')] },
      { words: [], chars: [] },
      { words: [], chars: [] },
    ]);
  });
});

describe('buildVocabulary', () => {
  const texts: TokenizedText[] = [
    { words: ['a', 'b'], chars: [framed('a'), framed('b')] },
    { words: ['b', 'a'], chars: [framed('b'), framed('a')] },
    { words: ['b'], chars: [framed('b')] },
  ];

  it('ranks by document frequency, then code-unit order, and applies the caps', () => {
    const vocab = buildVocabulary(texts, {
      ...config,
      charNgrams: { min: 2, max: 2 },
      maxWordFeatures: 3,
      maxFeatures: 5,
    });
    expect(vocab.word).toEqual([['b'], ['a'], ['a', 'b']]);
    expect(vocab.wordDf).toEqual([3, 2, 1]);
    expect(vocab.char).toEqual([
      [WORD_START, 'b'],
      ['b', WORD_END],
    ]);
    expect(vocab.documents).toBe(3);
  });

  it('drops n-grams below the minimum document frequency', () => {
    const vocab = buildVocabulary(texts, {
      ...config,
      minDocumentFrequency: { word: 2, char: 3 },
    });
    expect(vocab.word).toEqual([['b'], ['a']]);
    expect(vocab.char).toEqual([
      [WORD_START, 'b'],
      [WORD_START, 'b', WORD_END],
      ['b', WORD_END],
    ]);
  });

  it('uses smoothed idf', () => {
    expect(idf(1, 1)).toBe(1);
    expect(idf(0, 3)).toBeCloseTo(Math.log(4) + 1, 12);
  });
});

describe('featuriser in onnxruntime', () => {
  const corpus = [
    "My card hasn't arrived!",
    'CAFÉ payment of £200 declined',
    'card, card; CARD',
    'top-up failed',
    '',
    '???',
  ];

  it('lower-cases and splits words on anything but letters and digits', async () => {
    const tokens = await tokenize(corpus, config);
    expect(tokens.map((t) => t.words)).toEqual([
      ['my', 'card', 'hasn', 't', 'arrived'],
      ['café', 'payment', 'of', '200', 'declined'],
      ['card', 'card', 'card'],
      ['top', 'up', 'failed'],
      [],
      [],
    ]);
    expect(tokens[1].chars[0]).toEqual(framed('café'));
  });

  it('produces exactly the vocabulary n-grams of each text, block-normalised', async () => {
    const tokens = await tokenize(corpus, config);
    const vocab = buildVocabulary(tokens.slice(0, 3), config);
    const x = await featurize(corpus, config, vocab);
    const wordColumn = new Map(vocab.word.map((g, i) => [g.join('\u0000'), i]));
    const charColumn = new Map(
      vocab.char.map((g, i) => [g.join('\u0000'), vocab.word.length + i]),
    );
    tokens.forEach((t, row) => {
      const expected = new Set<number>();
      for (const k of ngramKeys(t.words, 1, 2))
        if (wordColumn.has(k)) expected.add(wordColumn.get(k) as number);
      for (const w of t.chars)
        for (const k of ngramKeys(w, 2, 4))
          if (charColumn.has(k)) expected.add(charColumn.get(k) as number);
      const begin = x.rowStart[row];
      const end = x.rowStart[row + 1];
      expect(Array.from(x.colIndex.subarray(begin, end))).toEqual(
        [...expected].sort((a, b) => a - b),
      );
      // Each block present in a row has norm 0.5 (its weight); an absent block stays empty.
      const norms = [0, 0];
      for (let p = begin; p < end; p++)
        norms[x.colIndex[p] < vocab.word.length ? 0 : 1] += x.values[p] ** 2;
      for (const norm of norms)
        expect([0, 0.5]).toContainEqual(Number(Math.sqrt(norm).toFixed(6)));
    });
    // Texts without a word (empty, punctuation only) get an all-zero row, not NaN.
    expect(x.rowStart[6] - x.rowStart[4]).toBe(0);
    // Under idf weighting a repeated word counts once: 'card, card; CARD' -> 'card', 'card card',
    // each weighted by its idf alone, the block scaled to norm 0.5.
    const begin = x.rowStart[2];
    const row2 = Array.from(x.colIndex.subarray(begin, x.rowStart[3])).filter(
      (c) => c < vocab.word.length,
    );
    expect(row2.map((c) => vocab.word[c].join(' '))).toEqual([
      'card',
      'card card',
    ]);
    const weights = row2.map((c) =>
      Math.fround(idf(vocab.wordDf[c], vocab.documents)),
    );
    const norm = Math.hypot(...weights);
    weights.forEach((w, i) =>
      expect(x.values[begin + i]).toBeCloseTo((0.5 * w) / norm, 12),
    );
  });
});
