import { ValidationFailedError, type FieldError } from '@ml/errors';
import type { InferInputTensor, InferRequest } from './oip.types';

const DATATYPES = new Set(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']);

/** Flattens nested row-major data (the protocol allows both forms). */
function flat(data: unknown[]): unknown[] {
  return data.some(Array.isArray) ? (data as unknown[]).flat(Infinity as 1) : data;
}

/**
 * Checks the shape of an inference request: inputs present, each with a name, a known datatype,
 * a shape of non-negative integers and exactly as many data elements as the shape holds.
 * Returns the request with every input's data flattened.
 */
export function parseInferRequest(body: unknown): InferRequest {
  const errors: FieldError[] = [];
  const b = body as Partial<InferRequest> | null;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) {
    throw new ValidationFailedError([{ field: '', message: 'must be a JSON object' }], 'Invalid inference request.');
  }
  if (b.id !== undefined && typeof b.id !== 'string') errors.push({ field: 'id', message: 'must be a string' });
  if (!Array.isArray(b.inputs) || b.inputs.length === 0) {
    errors.push({ field: 'inputs', message: 'must be a non-empty array' });
  } else {
    b.inputs.forEach((input: Partial<InferInputTensor>, i: number) => {
      const f = `inputs[${i}]`;
      if (typeof input !== 'object' || input === null) {
        errors.push({ field: f, message: 'must be an object' });
        return;
      }
      if (typeof input.name !== 'string' || !input.name) errors.push({ field: `${f}.name`, message: 'must be a non-empty string' });
      if (typeof input.datatype !== 'string' || !DATATYPES.has(input.datatype)) {
        errors.push({ field: `${f}.datatype`, message: `must be one of ${[...DATATYPES].join(', ')}` });
      }
      const shapeOk = Array.isArray(input.shape) && input.shape.every((d) => Number.isInteger(d) && d >= 0);
      if (!shapeOk) errors.push({ field: `${f}.shape`, message: 'must be an array of non-negative integers' });
      if (!Array.isArray(input.data)) {
        errors.push({ field: `${f}.data`, message: 'must be an array' });
      } else if (shapeOk) {
        const data = flat(input.data);
        const expected = (input.shape as number[]).reduce((a, d) => a * d, 1);
        if (data.length !== expected) {
          errors.push({ field: `${f}.data`, message: `holds ${data.length} elements but shape ${JSON.stringify(input.shape)} needs ${expected}` });
        } else {
          input.data = data;
        }
      }
    });
  }
  if (b.outputs !== undefined) {
    if (!Array.isArray(b.outputs)) errors.push({ field: 'outputs', message: 'must be an array' });
    else
      b.outputs.forEach((o, i) => {
        if (typeof o?.name !== 'string') errors.push({ field: `outputs[${i}].name`, message: 'must be a string' });
        const k = o?.parameters?.classification;
        if (k !== undefined && !(Number.isInteger(k) && (k as number) > 0)) {
          errors.push({ field: `outputs[${i}].parameters.classification`, message: 'must be a positive integer' });
        }
      });
  }
  if (errors.length) throw new ValidationFailedError(errors, 'Invalid inference request.');
  return b as InferRequest;
}

/**
 * Triton's classification extension: the top `k` classes of each row as `"score:index:label"`
 * strings, highest first.
 */
export function classificationStrings(scores: Float32Array, rows: number, cols: number, k: number, labels: readonly string[]): string[] {
  const out: string[] = [];
  const take = Math.min(k, cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const idx = Array.from({ length: cols }, (_, c) => c).sort((a, b) => scores[base + b] - scores[base + a] || a - b);
    for (let j = 0; j < take; j++) {
      const c = idx[j];
      out.push(`${scores[base + c].toFixed(6)}:${c}:${labels[c] ?? c}`);
    }
  }
  return out;
}
