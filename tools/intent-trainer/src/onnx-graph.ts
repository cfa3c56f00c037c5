import { onnx } from 'onnx-proto';

/** Attribute values the graph builder accepts; arrays must be homogeneous. */
export type AttributeValue =
  | string
  | number
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { strings: readonly string[] };

const AttributeType = onnx.AttributeProto.AttributeType;
export const ElemType = onnx.TensorProto.DataType;

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

/**
 * Builds an ONNX attribute. A JS number is an INT only when `asFloat` is not set, because
 * ONNX distinguishes `1` (INT) from `1.0` (FLOAT) and JS cannot.
 */
export function attribute(
  name: string,
  value: AttributeValue,
  asFloat = false,
): onnx.IAttributeProto {
  if (typeof value === 'string')
    return { name, type: AttributeType.STRING, s: utf8(value) };
  if (typeof value === 'number') {
    return asFloat || !Number.isInteger(value)
      ? { name, type: AttributeType.FLOAT, f: value }
      : { name, type: AttributeType.INT, i: value };
  }
  if ('ints' in value)
    return { name, type: AttributeType.INTS, ints: [...value.ints] };
  if ('floats' in value)
    return { name, type: AttributeType.FLOATS, floats: [...value.floats] };
  return {
    name,
    type: AttributeType.STRINGS,
    strings: value.strings.map(utf8),
  };
}

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, AttributeValue>>;
  domain?: string;
}

export function node(spec: NodeSpec): onnx.INodeProto {
  return {
    name: spec.outputs[0],
    opType: spec.op,
    domain: spec.domain ?? '',
    input: [...spec.inputs],
    output: [...spec.outputs],
    // Sorted so the encoded bytes do not depend on object key order at the call site.
    attribute: Object.keys(spec.attributes ?? {})
      .sort()
      .map((k) =>
        attribute(k, (spec.attributes as Record<string, AttributeValue>)[k]),
      ),
  };
}

/** A tensor type with named (dynamic) or fixed dimensions. */
export function valueInfo(
  name: string,
  elemType: number,
  dims: ReadonlyArray<number | string>,
): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) =>
            typeof d === 'string' ? { dimParam: d } : { dimValue: d },
          ),
        },
      },
    },
  };
}

export function floatTensor(
  name: string,
  dims: readonly number[],
  data: Float32Array,
): onnx.ITensorProto {
  expectSize(name, dims, data.length);
  // Raw little-endian bytes: compact, and identical on every platform Node runs on.
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return { name, dims: [...dims], dataType: ElemType.FLOAT, rawData: raw };
}

export function int64Tensor(
  name: string,
  dims: readonly number[],
  data: readonly number[],
): onnx.ITensorProto {
  expectSize(name, dims, data.length);
  const raw = new Uint8Array(data.length * 8);
  const view = new DataView(raw.buffer);
  data.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dims: [...dims], dataType: ElemType.INT64, rawData: raw };
}

function expectSize(
  name: string,
  dims: readonly number[],
  length: number,
): void {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== length)
    throw new Error(
      `tensor ${name}: dims ${dims.join('x')} need ${size} values, got ${length}`,
    );
}

export interface ModelSpec {
  graphName: string;
  nodes: onnx.INodeProto[];
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  initializers?: onnx.ITensorProto[];
  docString?: string;
  metadata?: Readonly<Record<string, string>>;
}

/** ai.onnx 17 for the standard ops, com.microsoft 1 for the Tokenizer. */
export const OPSET_IMPORTS: onnx.IOperatorSetIdProto[] = [
  { domain: '', version: 17 },
  { domain: 'com.microsoft', version: 1 },
];

export function encodeModel(spec: ModelSpec): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'intent-trainer',
    opsetImport: OPSET_IMPORTS,
    docString: spec.docString ?? '',
    metadataProps: Object.keys(spec.metadata ?? {})
      .sort()
      .map((key) => ({
        key,
        value: (spec.metadata as Record<string, string>)[key],
      })),
    graph: {
      name: spec.graphName,
      node: spec.nodes,
      input: spec.inputs,
      output: spec.outputs,
      initializer: spec.initializers ?? [],
    },
  };
  return onnx.ModelProto.encode(model).finish();
}
