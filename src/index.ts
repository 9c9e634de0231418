// The public API.
export { Graph, Value, OPSET, type Node } from './graph/graph.ts';
export type { Dim, Shape } from './graph/shape.ts';
export { grad } from './autograd/grad.ts';
export { registerGradient, registeredOps, type GradRule, type GradContext } from './autograd/registry.ts';
export { LossgraphError } from './errors.ts';
export { knownLosses, lossFromSpec } from './losses/registry.ts';
export type { LossDefinition, LossInputs } from './losses/types.ts';
export { mlpForward, mlpParams } from './models/mlp.ts';
export { initParams, type ParamSpec } from './models/params.ts';
export { trainingStepGraph, TRAIN_INPUTS, TRAIN_OUTPUTS, updatedName } from './artifacts/training_step.ts';
export { Session, type SessionOptions, type ExecutionProvider } from './runtime/session.ts';
export { TrainingSession } from './runtime/training.ts';
