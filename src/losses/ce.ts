// Cross-entropy on logits with PyTorch's CrossEntropyLoss semantics: optional
// class weights, an ignored label, reduction mean or sum. A weighted mean
// divides by the summed weights of the (non-ignored) targets, not by B.
import type { Graph, Value } from '../graph/graph.ts';
import { atLabel, choiceArg, intArg } from './common.ts';
import type { LossDefinition } from './types.ts';

export interface TargetMask {
  /** Labels with ignored entries replaced by 0, safe to index with. */
  safe: Value;
  /** Per-sample weight [B]: the target's class weight (or 1), 0 where ignored. */
  weight: Value;
  /** [B] bool: the label is ignore_index. */
  ignored: Value;
}

/** Weights and safe labels for ce-style losses. */
export function targetMask(g: Graph, labels: Value, ignoreIndex: number, classWeights: Value | undefined, dtype: Value['dtype']): TargetMask {
  const ignored = g.equal(labels, g.constant('int64', [], [ignoreIndex]));
  const safe = g.where(ignored, g.constant('int64', [], [0]), labels);
  const w = classWeights ? g.gather(classWeights, safe, 0) : g.expand(g.scalar(1, dtype), g.shape(labels));
  return { safe, weight: g.where(ignored, 0, w), ignored };
}

/** Applies 'mean' (divide by the summed target weights) or 'sum' to per-sample losses. */
export function reduceWeighted(g: Graph, perSample: Value, mask: TargetMask, reduction: 'mean' | 'sum'): Value {
  const total = g.reduceSum(perSample, [0], false);
  return reduction === 'sum' ? total : g.div(total, g.reduceSum(mask.weight, [0], false));
}

export const ce: LossDefinition = {
  name: 'ce',
  summary: 'cross-entropy on logits (PyTorch CrossEntropyLoss: weights, ignore_index, reduction)',
  head: 'logits',
  args: [
    { name: 'ignore_index', kind: 'int', default: -100, doc: 'samples with this label add nothing' },
    { name: 'reduction', kind: 'choice', default: 'mean', choices: ['mean', 'sum'], doc: 'mean divides by the summed target weights' },
  ],
  build(ctx, args) {
    const { g, logits, labels } = ctx;
    const mask = targetMask(g, labels, intArg(args, 'ignore_index'), ctx.weights, logits.dtype);
    const nll = g.neg(atLabel(g, g.logSoftmax(logits, 1), mask.safe));
    return reduceWeighted(g, g.mul(nll, mask.weight), mask, choiceArg(args, 'reduction'));
  },
};
