// Focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection"), the
// multi-class form: -alpha_y (1 - p_y)^gamma log p_y. It down-weights samples
// the model already gets right, so training concentrates on hard ones; gamma = 0
// is cross-entropy. alpha comes from the class weights (--class-weights).
//
// (1 - p_y)^gamma is exp(gamma log(1 - p_y)) with log(1 - p_y) the log-sum-exp
// of the non-target log-probabilities, so it stays exact (and differentiable)
// when p_y rounds to 1, where 1 - p_y computed directly would be 0.
import { atLabel, choiceArg, hyperArg, logNotLabel, logSoftmax } from './common.ts';
import { IGNORE_INDEX_ARG, reduceWeighted, targetWeight } from './ce.ts';
import type { LossDefinition } from './types.ts';

export const focal: LossDefinition = {
  name: 'focal',
  summary: 'focal loss -(1 - p_y)^gamma log p_y (Lin et al. 2017): cross-entropy that down-weights easy samples',
  head: 'logits',
  classWeights: true,
  args: [
    { name: 'gamma', kind: 'hyper', default: 2, range: { min: 0 }, doc: 'focusing strength; 0 is cross-entropy' },
    IGNORE_INDEX_ARG,
    { name: 'reduction', kind: 'choice', default: 'mean', choices: ['mean', 'sum'], doc: 'mean divides by the summed target weights' },
  ],
  build(ctx, args) {
    const { g, logits, labels, classes } = ctx;
    const logp = logSoftmax(ctx, logits);
    const modulation = g.exp(g.mul(hyperArg(args, 'gamma'), logNotLabel(g, logp, labels, classes)));
    const perSample = g.mul(g.neg(g.mul(modulation, atLabel(g, logp, labels))), targetWeight(ctx));
    return reduceWeighted(ctx, perSample, choiceArg(args, 'reduction'));
  },
};
