import {
  featurizerGraph,
  type FeaturizerConfig,
  type Vocabulary,
} from './featurizer';
import type { SoftmaxModel } from './logistic-regression';
import {
  ElemType,
  encodeModel,
  floatTensor,
  node,
  valueInfo,
} from './onnx-graph';

export const INPUT_NAME = 'text';
export const OUTPUT_NAME = 'probabilities';

export interface ClassifierGraphOptions {
  config: FeaturizerConfig;
  vocabulary: Vocabulary;
  model: SoftmaxModel;
  labels: readonly string[];
  /** Key/value pairs stored in the model's metadata_props (e.g. version). */
  metadata: Readonly<Record<string, string>>;
  /** The model's doc string; defaults to the Banking77 one the shipped model carries. */
  description?: string;
}

/**
 * The whole classifier as one ONNX model: featuriser, then MatMul W, Add b, Softmax.
 * Parameters are stored as float32 initializers; nothing refers to files outside the model.
 */
export function encodeClassifier(options: ClassifierGraphOptions): Uint8Array {
  const { config, vocabulary, model, labels } = options;
  if (model.classes !== labels.length)
    throw new Error(
      `model has ${model.classes} classes, ${labels.length} labels`,
    );
  const featurizer = featurizerGraph(
    config,
    vocabulary,
    INPUT_NAME,
    'features',
  );
  if (featurizer.featureCount !== model.features) {
    throw new Error(
      `featuriser has ${featurizer.featureCount} features, model ${model.features}`,
    );
  }
  const nodes = [
    ...featurizer.nodes,
    node({ op: 'MatMul', inputs: ['features', 'W'], outputs: ['scores'] }),
    node({ op: 'Add', inputs: ['scores', 'b'], outputs: ['logits'] }),
    node({
      op: 'Softmax',
      inputs: ['logits'],
      outputs: [OUTPUT_NAME],
      attributes: { axis: 1 },
    }),
  ];
  return encodeModel({
    graphName: 'intent_classifier',
    docString:
      options.description ??
      'Banking77 intent classifier: text [N] -> probabilities [N, labels].',
    nodes,
    inputs: [valueInfo(INPUT_NAME, ElemType.STRING, ['N'])],
    outputs: [valueInfo(OUTPUT_NAME, ElemType.FLOAT, ['N', labels.length])],
    initializers: [
      ...featurizer.initializers,
      floatTensor(
        'W',
        [model.features, model.classes],
        Float32Array.from(model.weights),
      ),
      floatTensor('b', [model.classes], Float32Array.from(model.bias)),
    ],
    metadata: { ...options.metadata, labels: JSON.stringify(labels) },
  });
}
