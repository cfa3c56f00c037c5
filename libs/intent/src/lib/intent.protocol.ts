import { ValidationFailedError } from '@ml/errors';
import { classificationStrings, type InferRequest, type InferResponse, type ProtocolModel, type TensorSpec } from '@ml/inference';
import { queryProblem } from '@ml/contracts';
import type { IntentService } from './intent.service';

/** The intent model over the Open Inference Protocol: BYTES text in, FP32 probabilities out. */
export class IntentProtocolModel implements ProtocolModel {
  readonly platform = 'onnxruntime_onnx';
  constructor(private readonly service: IntentService) {}

  get name() {
    return this.service.files.name;
  }
  get version() {
    return this.service.files.version;
  }
  get ready() {
    return this.service.ready;
  }
  get inputs(): TensorSpec[] {
    return this.service.files.manifest.inputs;
  }
  get outputs(): TensorSpec[] {
    return this.service.files.manifest.outputs;
  }

  async infer(request: InferRequest, budgetMs: number): Promise<InferResponse> {
    const inputName = this.inputs[0].name;
    const outputName = this.outputs[0].name;
    const input = request.inputs.find((i) => i.name === inputName);
    const errors: { field: string; message: string }[] = [];
    if (!input) errors.push({ field: 'inputs', message: `must contain an input named "${inputName}"` });
    else if (input.datatype !== 'BYTES') errors.push({ field: `inputs.${inputName}.datatype`, message: 'must be BYTES' });
    else {
      input.data.forEach((v, i) => {
        const p = queryProblem(v);
        if (p) errors.push({ field: `inputs.${inputName}.data[${i}]`, message: p });
      });
      if (input.data.length === 0) errors.push({ field: `inputs.${inputName}.data`, message: 'must hold at least one text' });
      if (input.data.length > 256) errors.push({ field: `inputs.${inputName}.data`, message: 'must hold at most 256 texts' });
    }
    for (const o of request.outputs ?? []) {
      if (o.name !== outputName) errors.push({ field: 'outputs', message: `unknown output "${o.name}"; this model has "${outputName}"` });
    }
    if (errors.length) throw new ValidationFailedError(errors, 'Invalid inference request.');

    const classifier = this.service.get();
    const texts = (input as { data: string[] }).data;
    const rows = await classifier.scores(texts, budgetMs);
    const cols = classifier.labels.length;
    const flat = new Float32Array(rows.length * cols);
    rows.forEach((r, i) => flat.set(r, i * cols));
    const k = request.outputs?.find((o) => o.name === outputName)?.parameters?.classification;
    const output = k
      ? {
          name: outputName,
          shape: [rows.length, Math.min(k, cols)],
          datatype: 'BYTES',
          parameters: { classification: k },
          data: classificationStrings(flat, rows.length, cols, k, classifier.labels),
        }
      : { name: outputName, shape: [rows.length, cols], datatype: 'FP32', data: Array.from(flat) };
    return {
      model_name: this.name,
      model_version: this.version,
      ...(request.id !== undefined ? { id: request.id } : {}),
      outputs: [output],
    };
  }
}
