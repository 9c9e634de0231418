// The public API.
export { Graph, Value, OPSET, TARGETS, type Node, type Target } from './graph/graph.ts';
export type { Dim, Shape } from './graph/shape.ts';
export { grad } from './autograd/grad.ts';
export { registerGradient, registeredOps, type GradRule, type GradContext } from './autograd/registry.ts';
export { ArgumentError, ArtifactError, DataError, FieldError, LossgraphError, ProviderError } from './errors.ts';
export { knownLosses, lossDefinition } from './losses/registry.ts';
export { buildLoss, type CompiledLoss, type Hyperparameter } from './losses/compile.ts';
export { parseLossSpec, type LossSpec } from './losses/loss_spec.ts';
export { sigmaAtEpoch, type SigmaSchedule } from './losses/gaussian_kl.ts';
export type { LossContext, LossDefinition } from './losses/types.ts';
export { initParams, type ParamSpec } from './models/params.ts';
export { ModelBuilder } from './models/builder.ts';
export { parseModelSpec, forwardModel } from './models/zoo.ts';
export { importOnnxModel, parseOnnxModelSpec, IMPORTABLE_OPS, type ImportedModel, type OnnxModelOptions } from './models/onnx_import.ts';
export { parseOptimizerSpec, optimizerUpdate, type OptimizerSpec } from './optim/optimizers.ts';
export { buildArtifacts, assembleGraph } from './artifacts/build.ts';
export { FILES, TENSORS, bakeInference, parseCheckpoint, type ArtifactSpec, type Manifest } from './artifacts/contract.ts';
export { parseManifest } from './artifacts/manifest_schema.ts';
export { build } from './artifacts/files.ts';
export { readImportedModel } from './artifacts/model_file.ts';
export { Session, type SessionOptions, type ExecutionProvider } from './runtime/session.ts';
export { TrainingSession, type StepResult, type TrainBatch } from './runtime/training.ts';
export { loadTrainingSession, readCheckpoint, readManifest } from './runtime/node.ts';
export { cudaProblems, cudaRefusals } from './runtime/cuda_kernels.ts';

