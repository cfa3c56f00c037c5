import type { TensorSpec } from './model.repository';

/** Open Inference Protocol (KServe V2) request tensor. */
export interface InferInputTensor {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data: unknown[];
}
export interface InferRequestedOutput {
  name: string;
  parameters?: { classification?: number; [k: string]: unknown };
}
export interface InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: InferInputTensor[];
  outputs?: InferRequestedOutput[];
}
export interface InferOutputTensor {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data: (number | string)[];
}
export interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: InferOutputTensor[];
}

/** A model as the protocol sees it; each model app adapts its served model to this. */
export interface ProtocolModel {
  readonly name: string;
  readonly version: string;
  readonly platform: string;
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly ready: boolean;
  infer(request: InferRequest, budgetMs: number): Promise<InferResponse>;
}

/** Injection token: the ProtocolModel[] an app serves. */
export const PROTOCOL_MODELS = Symbol('PROTOCOL_MODELS');
