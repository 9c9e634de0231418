// Dense label smoothing with PyTorch's semantics (CrossEntropyLoss with
// label_smoothing=eps): eps is spread over all K classes, so the target gets
// 1 - eps + eps/K. With class weights, the smoothing term weighs each class by
// its weight; ignored samples contribute to neither term.
import { atLabel, choiceArg, hyperArg, logSoftmax } from './common.ts';
import { IGNORE_INDEX_ARG, reduceWeighted, targetWeight } from './ce.ts';
import type { LossDefinition } from './types.ts';

export const labelSmoothing: LossDefinition = {
  name: 'label_smoothing',
  summary: 'cross-entropy against (1 - eps) one-hot + eps/K uniform targets (PyTorch label_smoothing)',
  head: 'logits',
  classWeights: true,
  args: [
    { name: 'eps', kind: 'hyper', default: 0.1, range: { min: 0, max: 1 }, doc: 'smoothing mass spread over all classes' },
    IGNORE_INDEX_ARG,
    { name: 'reduction', kind: 'choice', default: 'mean', choices: ['mean', 'sum'], doc: 'mean divides by the summed target weights' },
  ],
  build(ctx, args) {
    const { g, logits, labels, classes } = ctx;
    const eps = hyperArg(args, 'eps');
    const logp = logSoftmax(ctx, logits);
    const nll = g.mul(g.neg(atLabel(g, logp, labels)), targetWeight(ctx));
    const weighted = ctx.weights ? g.mul(logp, ctx.weights) : logp;
    const smooth = g.mul(g.neg(g.reduceSum(weighted, [1], false)), ctx.keep);
    const reduction = choiceArg<'mean' | 'sum'>(args, 'reduction');
    const a = reduceWeighted(ctx, nll, reduction);
    const b = reduceWeighted(ctx, smooth, reduction);
    return g.add(g.mul(g.sub(g.scalar(1, logits.dtype), eps), a), g.mul(g.div(eps, classes), b));
  },
};
