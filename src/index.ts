// The public API.
export { Graph, Value, OPSET, type Node } from './graph/graph.ts';
export type { Dim, Shape } from './graph/shape.ts';
export { grad } from './autograd/grad.ts';
export { registerGradient, registeredOps, type GradRule, type GradContext } from './autograd/registry.ts';
export { LossgraphError } from './errors.ts';
export { knownLosses, lossDefinition } from './losses/registry.ts';
export { buildLoss, parseLossSpec, type CompiledLoss, type Hyperparameter, type LossSpec } from './losses/compile.ts';
export { sigmaAtEpoch, type SigmaSchedule } from './losses/gaussian_kl.ts';
export type { LossContext, LossDefinition } from './losses/types.ts';
export { initParams, type ParamSpec } from './models/params.ts';
export { ModelBuilder } from './models/builder.ts';
export { parseModelSpec, forwardModel } from './models/zoo.ts';
export { parseOptimizerSpec, optimizerUpdate, type OptimizerSpec } from './optim/optimizers.ts';
export { build, buildArtifacts, assembleGraph, type ArtifactSpec, type Manifest } from './artifacts/build.ts';
export { Session, type SessionOptions, type ExecutionProvider } from './runtime/session.ts';
export { TrainingSession, readCheckpoint, readManifest } from './runtime/training.ts';
