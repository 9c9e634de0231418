// Squared and absolute error losses. On logits they compare softmax
// probabilities with one-hot labels (a "Euclidean" classification loss, seed
// 004); with input=raw they compare the model output with `targets`
// (regression). By default both average over batch and outputs (PyTorch
// MSELoss() / L1Loss()); reduction=sum sums, and mse's reduction=sum_half is
// seed 004's L2 loss 1/2 sum (y_hat - y)^2, whose gradient is y_hat - y.
import type { Value } from '../graph/graph.ts';
import { choiceArg, oneHot, required, sampleMean, sampleSum } from './common.ts';
import type { ArgSpec, LossDefinition, TermContext } from './types.ts';

function residual(ctx: TermContext, input: 'softmax' | 'raw', loss: string): Value {
  const { g, logits, labels, classes } = ctx;
  if (input === 'raw') return g.sub(logits, required(ctx, loss, 'targets'));
  return g.sub(g.softmax(logits, 1), oneHot(g, labels, classes, logits.dtype));
}

const inputArg: ArgSpec = { name: 'input', kind: 'choice', default: 'softmax', choices: ['softmax', 'raw'], doc: 'softmax: probabilities vs one-hot labels; raw: outputs vs targets' };
const rawNeedsTargets = (fixed: Readonly<Record<string, string | number>>) => (fixed.input === 'raw' ? (['targets'] as const) : []);

/** Elementwise errors [B, K] reduced: mean over samples that count and outputs, sum, or half the sum. */
function reduceErrors(ctx: TermContext, errors: Value, reduction: string): Value {
  const { g } = ctx;
  if (reduction === 'mean') return sampleMean(ctx, g.reduceMean(errors, [1], false));
  const total = sampleSum(ctx, g.reduceSum(errors, [1], false));
  return reduction === 'sum_half' ? g.mul(total, 0.5) : total;
}

export const mse: LossDefinition = {
  name: 'mse',
  summary: 'squared error: softmax vs one-hot, or raw outputs vs targets; mean, sum, or seed 004\'s 1/2 sum',
  head: 'logits',
  args: [
    inputArg,
    { name: 'reduction', kind: 'choice', default: 'mean', choices: ['mean', 'sum', 'sum_half'], doc: 'mean over batch and outputs; sum; sum_half = 1/2 sum (seed 004\'s L2)' },
  ],
  needsWhen: rawNeedsTargets,
  build(ctx, args) {
    const r = residual(ctx, choiceArg(args, 'input'), 'mse');
    return reduceErrors(ctx, ctx.g.mul(r, r), choiceArg(args, 'reduction'));
  },
};

export const l1: LossDefinition = {
  name: 'l1',
  summary: 'absolute error: softmax vs one-hot, or raw outputs vs targets; mean or sum',
  head: 'logits',
  args: [
    inputArg,
    { name: 'reduction', kind: 'choice', default: 'mean', choices: ['mean', 'sum'], doc: 'mean over batch and outputs, or sum' },
  ],
  needsWhen: rawNeedsTargets,
  build(ctx, args) {
    return reduceErrors(ctx, ctx.g.abs(residual(ctx, choiceArg(args, 'input'), 'l1')), choiceArg(args, 'reduction'));
  },
};
