import type { onnx } from 'onnx-proto';
import { ElemType, int64Tensor, node } from './onnx-graph';

/** Settings of the in-graph featuriser. Everything the graph computes follows from these. */
export interface FeaturizerConfig {
  /** RE2 pattern of a word token (matched on the lower-cased text). */
  wordPattern: string;
  wordNgrams: { min: number; max: number };
  /** Character n-grams inside each word, the word framed by STX/ETX marks. */
  charNgrams: { min: number; max: number };
  /** Minimum number of training texts an n-gram must occur in. */
  minDocumentFrequency: { word: number; char: number };
  /** Cap on word n-gram features; character n-grams fill the rest of `maxFeatures`. */
  maxWordFeatures: number;
  maxFeatures: number;
  /**
   * How an n-gram present in a text is weighted before L2 normalisation:
   * `idf` = idf once per n-gram (binary presence), `tfidf` = count * idf, `binary` = 1.
   */
  weighting: 'idf' | 'tfidf' | 'binary';
  /** Relative weight of the word block against the character block (each block is L2-normalised). */
  wordBlockWeight: number;
}

/** Marks the Tokenizer puts around each word in character mode (`mark` = 1). */
export const WORD_START = '\u0002';
export const WORD_END = '\u0003';
/** Padding of token tensors; the word pattern never matches it, so no vocabulary n-gram contains it. */
export const PAD = '#';

export interface TokenizedText {
  words: string[];
  /** Per word: the characters of the word, framed by WORD_START / WORD_END. */
  chars: string[][];
}

export interface Vocabulary {
  /** N-grams as token arrays, in feature (column) order. */
  word: string[][];
  char: string[][];
  /** Training-set document frequencies, aligned with the arrays above. */
  wordDf: number[];
  charDf: number[];
  documents: number;
}

const NORMALIZED = 'normalized_text';
const WORDS = 'word_tokens';
const CHARS = 'char_tokens';

/** Lower-casing and tokenisation nodes shared by the vocabulary pass and the model. */
export function tokenizerNodes(
  config: FeaturizerConfig,
  input: string,
): onnx.INodeProto[] {
  return [
    node({
      op: 'StringNormalizer',
      inputs: [input],
      outputs: [NORMALIZED],
      // The locale must exist wherever the model runs: C.UTF-8 does, en_US often does not.
      attributes: {
        case_change_action: 'LOWER',
        is_case_sensitive: 0,
        locale: 'C.UTF-8',
      },
    }),
    node({
      op: 'Tokenizer',
      domain: 'com.microsoft',
      inputs: [NORMALIZED],
      outputs: [WORDS],
      attributes: {
        mark: 0,
        mincharnum: 1,
        pad_value: PAD,
        tokenexp: config.wordPattern,
      },
    }),
    node({
      op: 'Tokenizer',
      domain: 'com.microsoft',
      inputs: [WORDS],
      outputs: [CHARS],
      // An empty separator switches the Tokenizer to characters; marks frame each word.
      attributes: {
        mark: 1,
        mincharnum: 1,
        pad_value: PAD,
        separators: { strings: [''] },
      },
    }),
  ];
}

export const TOKEN_OUTPUTS = { words: WORDS, chars: CHARS } as const;

/**
 * Turns the Tokenizer outputs of a batch (words [N, W], chars [N, W, C], row-major, padded with
 * PAD) back into per-text token lists.
 */
export function unpackTokens(
  words: readonly string[],
  wordDims: readonly number[],
  chars: readonly string[],
  charDims: readonly number[],
): TokenizedText[] {
  const [n, w] = wordDims;
  const c = charDims[2] ?? 0;
  const out: TokenizedText[] = [];
  for (let i = 0; i < n; i++) {
    const text: TokenizedText = { words: [], chars: [] };
    for (let j = 0; j < w; j++) {
      const word = words[i * w + j];
      if (word === PAD) break;
      text.words.push(word);
      const base = (i * w + j) * c;
      const wc: string[] = [];
      for (let k = 0; k < c; k++) {
        const ch = chars[base + k];
        wc.push(ch);
        if (ch === WORD_END) break;
      }
      text.chars.push(wc);
    }
    out.push(text);
  }
  return out;
}

const KEY_SEP = '\u0000';

/** Contiguous n-grams of `tokens` with length in [min, max], as keys joined by NUL. */
export function ngramKeys(
  tokens: readonly string[],
  min: number,
  max: number,
): string[] {
  const keys: string[] = [];
  for (let n = min; n <= max; n++) {
    for (let i = 0; i + n <= tokens.length; i++)
      keys.push(tokens.slice(i, i + n).join(KEY_SEP));
  }
  return keys;
}

function documentFrequencies(docs: Iterable<string[]>): Map<string, number> {
  const df = new Map<string, number>();
  for (const keys of docs) {
    for (const k of new Set(keys)) df.set(k, (df.get(k) ?? 0) + 1);
  }
  return df;
}

/** Highest document frequency first, then by code-unit order of the key: a total, stable order. */
function rank(
  df: Map<string, number>,
  minDf: number,
  cap: number,
): Array<[string, number]> {
  return [...df]
    .filter(([, f]) => f >= minDf)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, Math.max(0, cap));
}

export function buildVocabulary(
  texts: readonly TokenizedText[],
  config: FeaturizerConfig,
): Vocabulary {
  const { wordNgrams: wn, charNgrams: cn } = config;
  const wordDf = documentFrequencies(
    texts.map((t) => ngramKeys(t.words, wn.min, wn.max)),
  );
  const charDf = documentFrequencies(
    texts.map((t) => t.chars.flatMap((w) => ngramKeys(w, cn.min, cn.max))),
  );
  const words = rank(
    wordDf,
    config.minDocumentFrequency.word,
    config.maxWordFeatures,
  );
  const chars = rank(
    charDf,
    config.minDocumentFrequency.char,
    config.maxFeatures - words.length,
  );
  return {
    word: words.map(([k]) => k.split(KEY_SEP)),
    wordDf: words.map(([, f]) => f),
    char: chars.map(([k]) => k.split(KEY_SEP)),
    charDf: chars.map(([, f]) => f),
    documents: texts.length,
  };
}

/** Smoothed idf, as scikit-learn: ln((1 + n) / (1 + df)) + 1. */
export function idf(df: number, documents: number): number {
  return Math.log((1 + documents) / (1 + df)) + 1;
}

/**
 * A TfIdfVectorizer over `ngrams`: the pool must list n-grams grouped by length (1-grams first),
 * `ngram_counts` holds where each length starts, and `ngram_indexes` sends each pooled n-gram
 * to its column, so columns follow the order of `ngrams`.
 */
function tfIdfNode(
  input: string,
  output: string,
  ngrams: readonly string[][],
  df: readonly number[],
  documents: number,
  range: { min: number; max: number },
  weighting: FeaturizerConfig['weighting'],
): onnx.INodeProto {
  const pool: string[] = [];
  const indexes: number[] = [];
  const weights: number[] = [];
  const counts: number[] = [];
  for (let n = 1; n <= range.max; n++) {
    counts.push(pool.length);
    ngrams.forEach((g, column) => {
      if (g.length !== n) return;
      pool.push(...g);
      indexes.push(column);
      weights.push(
        weighting === 'binary' ? 1 : Math.fround(idf(df[column], documents)),
      );
    });
  }
  return node({
    op: 'TfIdfVectorizer',
    inputs: [input],
    outputs: [output],
    attributes: {
      mode: weighting === 'tfidf' ? 'TFIDF' : 'IDF',
      min_gram_length: range.min,
      max_gram_length: range.max,
      max_skip_count: 0,
      ngram_counts: { ints: counts },
      ngram_indexes: { ints: indexes },
      pool_strings: { strings: pool },
      weights: { floats: weights },
    },
  });
}

export interface FeaturizerGraph {
  nodes: onnx.INodeProto[];
  initializers: onnx.ITensorProto[];
  /** Name of the [N, features] float output: L2-normalised blocks, concatenated. */
  output: string;
  featureCount: number;
}

/**
 * text [N] -> lower-case -> words / characters-in-words -> two TfIdfVectorizers -> each block
 * L2-normalised and scaled by its weight -> concatenated. With weights a and b the row norm is
 * sqrt(a^2 + b^2) when both blocks are non-empty.
 */
export function featurizerGraph(
  config: FeaturizerConfig,
  vocabulary: Vocabulary,
  input: string,
  output = 'features',
): FeaturizerGraph {
  const nodes = tokenizerNodes(config, input);
  const initializers: onnx.ITensorProto[] = [
    int64Tensor('flatten_chars_shape', [2], [0, -1]),
  ];
  nodes.push(
    node({
      op: 'Reshape',
      inputs: [CHARS, 'flatten_chars_shape'],
      outputs: ['char_sequence'],
    }),
    tfIdfNode(
      WORDS,
      'word_counts',
      vocabulary.word,
      vocabulary.wordDf,
      vocabulary.documents,
      config.wordNgrams,
      config.weighting,
    ),
    tfIdfNode(
      'char_sequence',
      'char_counts',
      vocabulary.char,
      vocabulary.charDf,
      vocabulary.documents,
      config.charNgrams,
      config.weighting,
    ),
    node({
      op: 'LpNormalization',
      inputs: ['word_counts'],
      outputs: ['word_unit'],
      attributes: { axis: 1, p: 2 },
    }),
    node({
      op: 'LpNormalization',
      inputs: ['char_counts'],
      outputs: ['char_unit'],
      attributes: { axis: 1, p: 2 },
    }),
  );
  const w = config.wordBlockWeight;
  initializers.push(
    {
      name: 'word_block_weight',
      dims: [],
      dataType: ElemType.FLOAT,
      floatData: [Math.fround(w)],
    },
    {
      name: 'char_block_weight',
      dims: [],
      dataType: ElemType.FLOAT,
      floatData: [Math.fround(1 - w)],
    },
  );
  nodes.push(
    node({
      op: 'Mul',
      inputs: ['word_unit', 'word_block_weight'],
      outputs: ['word_block'],
    }),
    node({
      op: 'Mul',
      inputs: ['char_unit', 'char_block_weight'],
      outputs: ['char_block'],
    }),
    node({
      op: 'Concat',
      inputs: ['word_block', 'char_block'],
      outputs: [output],
      attributes: { axis: 1 },
    }),
  );
  return {
    nodes,
    initializers,
    output,
    featureCount: vocabulary.word.length + vocabulary.char.length,
  };
}
