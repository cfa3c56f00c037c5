import type { TreeEnsembleJson } from '@ml/anomaly-features';
import { onnx } from 'onnx-proto';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function attr(
  name: string,
  value: {
    ints?: number[];
    floats?: number[];
    strings?: string[];
    i?: number;
    s?: string;
  },
): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (value.ints) return { name, type: T.INTS, ints: value.ints };
  if (value.floats) return { name, type: T.FLOATS, floats: value.floats };
  if (value.strings)
    return { name, type: T.STRINGS, strings: value.strings.map(text) };
  if (value.i !== undefined) return { name, type: T.INT, i: value.i };
  return { name, type: T.STRING, s: text(value.s ?? '') };
}

function floatTensor(
  name: string,
  dims: Array<number | string>,
): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: {
          dim: dims.map((d) =>
            typeof d === 'number' ? { dimValue: d } : { dimParam: d },
          ),
        },
      },
    },
  };
}

export interface OnnxMeta {
  readonly modelVersion: string;
  readonly producerVersion: string;
  readonly docString: string;
}

/**
 * The ensemble as ONNX: ai.onnx.ml TreeEnsembleRegressor (opset 3, BRANCH_LEQ, SUM of leaf
 * weights plus base value) then Sigmoid. Input `features` float32 [N, F], output `score`
 * float32 [N, 1]. Encoding is deterministic: the same trees give the same bytes.
 */
export function toOnnx(model: TreeEnsembleJson, meta: OnnxMeta): Uint8Array {
  const F = model.feature_names.length;
  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const featureIds: number[] = [];
  const modes: string[] = [];
  const values: number[] = [];
  const trueIds: number[] = [];
  const falseIds: number[] = [];
  const missingTrue: number[] = [];
  const targetTree: number[] = [];
  const targetNode: number[] = [];
  const targetIds: number[] = [];
  const targetWeights: number[] = [];
  model.trees.forEach((t, ti) => {
    for (let k = 0; k < t.feature.length; k++) {
      const leaf = t.feature[k] === -1;
      treeIds.push(ti);
      nodeIds.push(k);
      featureIds.push(leaf ? 0 : t.feature[k]);
      modes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      values.push(leaf ? 0 : t.threshold[k]);
      trueIds.push(leaf ? 0 : t.left[k]);
      falseIds.push(leaf ? 0 : t.right[k]);
      missingTrue.push(0);
      if (leaf) {
        targetTree.push(ti);
        targetNode.push(k);
        targetIds.push(0);
        targetWeights.push(t.value[k]);
      }
    }
  });

  const ensemble: onnx.INodeProto = {
    name: 'trees',
    opType: 'TreeEnsembleRegressor',
    domain: 'ai.onnx.ml',
    input: ['features'],
    output: ['margin'],
    attribute: [
      attr('aggregate_function', { s: 'SUM' }),
      attr('base_values', { floats: [model.base_score] }),
      attr('n_targets', { i: 1 }),
      attr('nodes_falsenodeids', { ints: falseIds }),
      attr('nodes_featureids', { ints: featureIds }),
      attr('nodes_missing_value_tracks_true', { ints: missingTrue }),
      attr('nodes_modes', { strings: modes }),
      attr('nodes_nodeids', { ints: nodeIds }),
      attr('nodes_treeids', { ints: treeIds }),
      attr('nodes_truenodeids', { ints: trueIds }),
      attr('nodes_values', { floats: values }),
      attr('post_transform', { s: 'NONE' }),
      attr('target_ids', { ints: targetIds }),
      attr('target_nodeids', { ints: targetNode }),
      attr('target_treeids', { ints: targetTree }),
      attr('target_weights', { floats: targetWeights }),
    ],
  };
  const sigmoid: onnx.INodeProto = {
    name: 'sigmoid',
    opType: 'Sigmoid',
    domain: '',
    input: ['margin'],
    output: ['score'],
  };

  const proto: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'ai.onnx.ml', version: 3 },
    ],
    producerName: 'anomaly-trainer',
    producerVersion: meta.producerVersion,
    modelVersion: Number(meta.modelVersion.split('.')[0]) || 1,
    docString: meta.docString,
    graph: {
      name: 'anomaly_detector',
      node: [ensemble, sigmoid],
      input: [floatTensor('features', ['N', F])],
      output: [floatTensor('score', ['N', 1])],
    },
    metadataProps: [
      { key: 'feature_version', value: model.feature_version },
      { key: 'feature_names', value: model.feature_names.join(',') },
    ],
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(proto)).finish();
}
