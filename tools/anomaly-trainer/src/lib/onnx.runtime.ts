import * as ort from 'onnxruntime-node';

/** Scores rows with onnxruntime-node, the runtime the detector service uses. */
export type OnnxScorer = (
  model: Uint8Array,
  x: Float32Array,
  rows: number,
  featureCount: number,
) => Promise<Float32Array>;

export const scoreWithOnnxRuntime: OnnxScorer = async (
  model,
  x,
  rows,
  featureCount,
) => {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  try {
    const out = new Float32Array(rows);
    const batch = 8192;
    for (let start = 0; start < rows; start += batch) {
      const n = Math.min(batch, rows - start);
      const input = new ort.Tensor(
        'float32',
        x.slice(start * featureCount, (start + n) * featureCount),
        [n, featureCount],
      );
      const result = await session.run({ features: input });
      out.set(result['score'].data as Float32Array, start);
    }
    return out;
  } finally {
    await session.release();
  }
};
