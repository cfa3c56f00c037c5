import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { onnx } from 'onnx-proto';
import {
  featurizerGraph,
  TOKEN_OUTPUTS,
  tokenizerNodes,
  unpackTokens,
  type FeaturizerConfig,
  type TokenizedText,
  type Vocabulary,
} from './featurizer';
import { ElemType, encodeModel, valueInfo } from './onnx-graph';
import { CsrBuilder, type CsrMatrix } from './sparse';

export const TEXT_INPUT = 'text';
const BATCH = 256;

function sessionFor(
  nodes: onnx.INodeProto[],
  outputs: onnx.IValueInfoProto[],
  initializers: onnx.ITensorProto[] = [],
): Promise<InferenceSession> {
  const bytes = encodeModel({
    graphName: 'featurizer',
    nodes,
    inputs: [valueInfo(TEXT_INPUT, ElemType.STRING, ['N'])],
    outputs,
    initializers,
  });
  return InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
}

async function inBatches<T>(
  texts: readonly string[],
  run: (batch: string[]) => Promise<T[]>,
): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < texts.length; i += BATCH)
    out.push(...(await run(texts.slice(i, i + BATCH))));
  return out;
}

/** Tokenises texts with the very nodes the model uses, so the vocabulary is built from serving tokens. */
export async function tokenize(
  texts: readonly string[],
  config: FeaturizerConfig,
): Promise<TokenizedText[]> {
  const session = await sessionFor(tokenizerNodes(config, TEXT_INPUT), [
    valueInfo(TOKEN_OUTPUTS.words, ElemType.STRING, ['N', 'W']),
    valueInfo(TOKEN_OUTPUTS.chars, ElemType.STRING, ['N', 'W', 'C']),
  ]);
  try {
    return await inBatches(texts, async (batch) => {
      const result = await session.run({
        [TEXT_INPUT]: new Tensor('string', batch, [batch.length]),
      });
      const words = result[TOKEN_OUTPUTS.words];
      const chars = result[TOKEN_OUTPUTS.chars];
      return unpackTokens(
        words.data as string[],
        words.dims,
        chars.data as string[],
        chars.dims,
      );
    });
  } finally {
    await session.release();
  }
}

/**
 * Feature rows of texts as the model computes them. The two TfIdfVectorizer outputs come from
 * onnxruntime (so tokenisation and n-gram matching are the serving code); the per-block L2
 * normalisation and block weights are applied here in Float64, which matches the graph's float32
 * LpNormalization to rounding and does not depend on how a CPU vectorises that reduction.
 */
export async function featurize(
  texts: readonly string[],
  config: FeaturizerConfig,
  vocabulary: Vocabulary,
): Promise<CsrMatrix> {
  const graph = featurizerGraph(config, vocabulary, TEXT_INPUT);
  const session = await sessionFor(
    graph.nodes,
    [
      valueInfo('word_counts', ElemType.FLOAT, ['N', vocabulary.word.length]),
      valueInfo('char_counts', ElemType.FLOAT, ['N', vocabulary.char.length]),
    ],
    graph.initializers,
  );
  const builder = new CsrBuilder(graph.featureCount);
  const blocks = [
    {
      name: 'word_counts',
      width: vocabulary.word.length,
      offset: 0,
      weight: config.wordBlockWeight,
    },
    {
      name: 'char_counts',
      width: vocabulary.char.length,
      offset: vocabulary.word.length,
      weight: 1 - config.wordBlockWeight,
    },
  ];
  try {
    await inBatches(texts, async (batch) => {
      const result = await session.run({
        [TEXT_INPUT]: new Tensor('string', batch, [batch.length]),
      });
      for (let i = 0; i < batch.length; i++) {
        const cols: number[] = [];
        const values: number[] = [];
        for (const block of blocks) {
          const data = result[block.name].data as Float32Array;
          const row = data.subarray(i * block.width, (i + 1) * block.width);
          let squares = 0;
          const start = cols.length;
          for (let j = 0; j < row.length; j++) {
            if (row[j] === 0) continue;
            cols.push(block.offset + j);
            values.push(row[j]);
            squares += row[j] * row[j];
          }
          const factor = squares > 0 ? block.weight / Math.sqrt(squares) : 0;
          for (let p = start; p < values.length; p++) values[p] *= factor;
        }
        builder.addRow(cols, values);
      }
      return [];
    });
  } finally {
    await session.release();
  }
  return builder.build();
}
