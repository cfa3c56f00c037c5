export { BatchScheduler, DeadlineExceededError, QueueFullError, isDeadlineExceededError, isQueueFullError, type BatchEvent, type RejectEvent } from '@ml/batching';
export {
  ModelLoadError,
  ModelNotReadyError,
  UnknownModelError,
  isModelLoadError,
} from './lib/inference.errors';
export { loadInferenceConfig, versionVariable, type InferenceConfig } from './lib/inference.config';
export { listVersions, resolveModel, sha256File, type ModelFiles, type ModelManifest, type TensorSpec } from './lib/model.repository';
export { InProcessRunner, WorkerRunner, loadRunner, type Feeds, type OnnxRunner, type Outputs, type TensorData } from './lib/onnx.runner';
export { ServedModel, type BatchingOptions, type ModelAdapter } from './lib/served-model';
export { OipController, OIP_SERVER_INFO, type OipServerInfo } from './lib/oip.controller';
export { classificationStrings, parseInferRequest } from './lib/oip.request';
export {
  PROTOCOL_MODELS,
  type InferInputTensor,
  type InferOutputTensor,
  type InferRequest,
  type InferRequestedOutput,
  type InferResponse,
  type ProtocolModel,
} from './lib/oip.types';
export { loadInBackground, outcomeOf, type PredictionOutcome } from './lib/model-lifecycle';
export { servePredictionRoutes, type PredictionHandler } from './lib/prediction-routes';
export { isPredictionRoute, modelAdmission } from './lib/model-admission';
