// One graph = one training step: forward, loss, backward and the parameter
// update. Parameters go in as inputs and come out updated, so the step is a
// pure function of its inputs and runs on any ONNX runtime.
import { grad } from '../autograd/grad.ts';
import { Graph, type Value } from '../graph/graph.ts';
import type { Dim } from '../graph/shape.ts';
import { buildLoss, parseLossSpec, type LossSpec } from '../losses/compile.ts';
import type { ParamSpec } from '../models/params.ts';
import { sgdUpdate } from '../optim/sgd.ts';

export interface TrainingStepSpec {
  /** Shape of one example, e.g. [784] or [1, 28, 28]. */
  inputShape: number[];
  params: readonly ParamSpec[];
  forward: (g: Graph, x: Value, params: readonly Value[]) => Value;
  /** A loss spec, e.g. 'ce' or 'ce + 0.5*gaussian_kl(sigma=2)'. */
  loss: string | LossSpec;
  classes: number;
  /** Values of the spec's named parameters. */
  lossParams?: Record<string, number>;
  /** Name of the batch dimension (symbolic). */
  batch?: Dim;
}

export const TRAIN_INPUTS = { batch: 'input', labels: 'labels', lr: 'lr' } as const;
export const TRAIN_OUTPUTS = { loss: 'loss', logits: 'logits' } as const;
export const updatedName = (param: string) => `${param}.updated`;

export interface HyperparameterDefault {
  name: string;
  default: number;
}

export interface TrainingStep {
  graph: Graph;
  /** Loss hyperparameter inputs (fed every step) with their defaults. */
  hyperparameters: HyperparameterDefault[];
}

/**
 * The training-step graph (SGD). Inputs: input, labels, lr, the loss
 * hyperparameters, then every parameter.
 */
export function trainingStepGraph(spec: TrainingStepSpec): TrainingStep {
  const lossSpec = typeof spec.loss === 'string' ? parseLossSpec(spec.loss) : spec.loss;
  const g = new Graph('training_step');
  const batch = spec.batch ?? 'batch';
  const x = g.input(TRAIN_INPUTS.batch, 'float32', [batch, ...spec.inputShape]);
  const labels = g.input(TRAIN_INPUTS.labels, 'int64', [batch]);
  const lr = g.input(TRAIN_INPUTS.lr, 'float32', []);
  const params = spec.params.map((p) => g.input(p.name, 'float32', p.shape));
  const logits = spec.forward(g, x, params);
  const { loss, hyperparameters } = buildLoss(lossSpec, { g, logits, labels, classes: spec.classes }, { params: spec.lossParams });
  const grads = grad(g, loss, params);
  const updated = sgdUpdate(g, params, grads, lr);
  g.output(loss, TRAIN_OUTPUTS.loss);
  g.output(logits, TRAIN_OUTPUTS.logits);
  updated.forEach((u, i) => g.output(u, updatedName(spec.params[i]!.name)));
  return { graph: g, hyperparameters: hyperparameters.map((h) => ({ name: h.name, default: h.default })) };
}
