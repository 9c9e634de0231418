// Cross-entropy on logits with PyTorch's CrossEntropyLoss semantics: optional
// class weights, an ignored label, reduction mean or sum. A weighted mean
// divides by the summed weights of the (non-ignored) targets, not by B.
import type { Value } from '../graph/graph.ts';
import { atLabel, choiceArg, divideOrZero, logSoftmax } from './common.ts';
import type { ArgSpec, LossDefinition, TermContext } from './types.ts';

/** ignore_index as ce-style losses declare it; its value holds for every term of the spec. */
export const IGNORE_INDEX_ARG: ArgSpec = {
  name: 'ignore_index',
  kind: 'int',
  default: -100,
  doc: 'samples with this label count for nothing, in every term of the spec',
};

/** Per-sample weight [B]: the target's class weight (or 1), 0 where the label is ignored. */
export function targetWeight(ctx: TermContext): Value {
  const { g, labels, weights, keep } = ctx;
  return weights ? g.mul(g.gather(weights, labels, 0), keep) : keep;
}

/** Applies 'mean' (divide by the summed target weights) or 'sum' to weighted per-sample losses. */
export function reduceWeighted(ctx: TermContext, weightedPerSample: Value, reduction: 'mean' | 'sum'): Value {
  const { g } = ctx;
  const total = g.reduceSum(weightedPerSample, [0], false);
  return reduction === 'sum' ? total : divideOrZero(g, total, g.reduceSum(targetWeight(ctx), [0], false));
}

export const ce: LossDefinition = {
  name: 'ce',
  summary: 'cross-entropy on logits (PyTorch CrossEntropyLoss: weights, ignore_index, reduction)',
  head: 'logits',
  classWeights: true,
  args: [
    IGNORE_INDEX_ARG,
    { name: 'reduction', kind: 'choice', default: 'mean', choices: ['mean', 'sum'], doc: 'mean divides by the summed target weights' },
  ],
  build(ctx, args) {
    const { g, logits, labels } = ctx;
    const nll = g.neg(atLabel(g, logSoftmax(ctx, logits), labels));
    return reduceWeighted(ctx, g.mul(nll, targetWeight(ctx)), choiceArg(args, 'reduction'));
  },
};
