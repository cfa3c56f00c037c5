import type { FieldError } from '@ml/errors';
import { ValidationFailedError } from '@ml/errors';
import type { InferRequest, InferResponse, ProtocolModel, TensorSpec } from '@ml/inference';
import type { AnomalyService } from './anomaly.service';

const MAX_ROWS = 256;

/**
 * The anomaly model over the Open Inference Protocol: FP32 `features` [N, 31] in (rows computed by
 * the caller with @ml/anomaly-features), FP32 `score` [N, 1] out. No customer history is read or
 * written here: that is what /predict/anomaly is for.
 */
export class AnomalyProtocolModel implements ProtocolModel {
  readonly platform = 'onnxruntime_onnx';
  constructor(private readonly service: AnomalyService) {}

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
    return this.service.files.inputs;
  }
  get outputs(): TensorSpec[] {
    return this.service.files.outputs;
  }

  async infer(request: InferRequest, budgetMs: number): Promise<InferResponse> {
    const inputName = this.inputs[0].name;
    const outputName = this.outputs[0].name;
    const errors: FieldError[] = [];
    // The served model's feature count (1.0.0: 31, 2.0.0: 25).
    const FEATURE_COUNT = this.service.files.features.count;
    const input = request.inputs.find((i) => i.name === inputName);
    const at = `inputs.${inputName}`;
    if (!input) errors.push({ field: 'inputs', message: `must contain an input named "${inputName}"` });
    else {
      if (input.datatype !== 'FP32') errors.push({ field: `${at}.datatype`, message: 'must be FP32' });
      const [rows, cols] = input.shape;
      if (input.shape.length !== 2 || cols !== FEATURE_COUNT) {
        errors.push({ field: `${at}.shape`, message: `must be [N, ${FEATURE_COUNT}]` });
      } else if (rows < 1 || rows > MAX_ROWS) {
        errors.push({ field: `${at}.shape`, message: `must hold 1 to ${MAX_ROWS} rows` });
      }
      const bad = input.data.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
      if (bad >= 0) errors.push({ field: `${at}.data[${bad}]`, message: 'must be a finite number' });
    }
    for (const o of request.outputs ?? []) {
      if (o.name !== outputName) errors.push({ field: 'outputs', message: `unknown output "${o.name}"; this model has "${outputName}"` });
      else if (o.parameters?.classification !== undefined) {
        errors.push({ field: 'outputs', message: `"${outputName}" is a score; the classification extension does not apply` });
      }
    }
    if (errors.length) throw new ValidationFailedError(errors, 'Invalid inference request.');

    const detector = this.service.get();
    const data = (input as { data: number[] }).data;
    const n = data.length / FEATURE_COUNT;
    const rows = Array.from({ length: n }, (_, i) => Float32Array.from(data.slice(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT)));
    const scores = await detector.scores(rows, budgetMs);
    return {
      model_name: this.name,
      model_version: this.version,
      ...(request.id !== undefined ? { id: request.id } : {}),
      outputs: [{ name: outputName, shape: [n, 1], datatype: 'FP32', data: scores }],
    };
  }
}
