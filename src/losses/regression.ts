// Squared and absolute error losses. On logits they compare softmax
// probabilities with one-hot labels (the "Euclidean" loss of seed 004); with
// input=raw they compare the model output with `targets` (regression).
// Both average over batch and classes (PyTorch MSELoss() / L1Loss()).
import type { Graph, Value } from '../graph/graph.ts';
import { choiceArg, oneHot, required } from './common.ts';
import type { LossContext, LossDefinition } from './types.ts';

function residual(ctx: LossContext, input: 'softmax' | 'raw', loss: string): Value {
  const { g, logits, labels, classes } = ctx;
  if (input === 'raw') return g.sub(logits, required(ctx, loss, 'targets'));
  return g.sub(g.softmax(logits, 1), oneHot(g, labels, classes, logits.dtype));
}

const inputArg = { name: 'input', kind: 'choice', default: 'softmax', choices: ['softmax', 'raw'], doc: 'softmax: probabilities vs one-hot labels; raw: outputs vs targets' } as const;

function meanAll(g: Graph, v: Value): Value {
  return g.reduceMean(v, undefined, false);
}

export const mse: LossDefinition = {
  name: 'mse',
  summary: 'mean squared error: softmax vs one-hot (seed 004 "Euclidean"), or raw outputs vs targets',
  head: 'logits',
  args: [inputArg],
  build(ctx, args) {
    const r = residual(ctx, choiceArg(args, 'input'), 'mse');
    return meanAll(ctx.g, ctx.g.mul(r, r));
  },
};

export const l1: LossDefinition = {
  name: 'l1',
  summary: 'mean absolute error: softmax vs one-hot, or raw outputs vs targets',
  head: 'logits',
  args: [inputArg],
  build(ctx, args) {
    return meanAll(ctx.g, ctx.g.abs(residual(ctx, choiceArg(args, 'input'), 'l1')));
  },
};
