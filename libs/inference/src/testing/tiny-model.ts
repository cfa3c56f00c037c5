import { onnx } from 'onnx-proto';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A real (tiny) ONNX model for tests: `y = softmax(x * scale)` over 3 columns, float input
 * `x` [N, 3] and output `y` [N, 3]. Written with onnx-proto, run by the real onnxruntime-node.
 */
export function tinyModelBytes(scale = 1): Uint8Array {
  const F = onnx.TensorProto.DataType.FLOAT;
  const vi = (name: string) => ({
    name,
    type: { tensorType: { elemType: F, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }] } } },
  });
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'ml-services-tests',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'tiny',
      input: [vi('x')],
      output: [vi('y')],
      initializer: [{ name: 'scale', dims: [], dataType: F, floatData: [scale] }],
      node: [
        { opType: 'Mul', input: ['x', 'scale'], output: ['z'], name: 'mul' },
        { opType: 'Softmax', input: ['z'], output: ['y'], name: 'softmax', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }] },
      ],
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

/** Writes `<root>/<name>/<version>/{model.onnx,manifest.json}`; returns the version dir. */
export function writeTinyModel(root: string, name: string, version: string, opts: { scale?: number; tamper?: boolean } = {}) {
  const dir = join(root, name, version);
  mkdirSync(dir, { recursive: true });
  const bytes = tinyModelBytes(opts.scale ?? 1);
  writeFileSync(join(dir, 'model.onnx'), bytes);
  const sha256 = createHash('sha256').update(opts.tamper ? Buffer.from('something else') : bytes).digest('hex');
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      name,
      version,
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 3] }],
      labels: ['a', 'b', 'c'],
      threshold: 0.5,
      sha256,
    }),
  );
  return dir;
}
