// Focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection"), the
// multi-class form: -alpha_y (1 - p_y)^gamma log p_y. It down-weights samples
// the model already gets right, so training concentrates on hard ones; gamma = 0
// is cross-entropy. alpha comes from the class weights (--class-weights).
//
// Everything is a function of one number per sample, the log-odds against the
// label d = log sum_{k != y} exp(z_k - z_y): log p_y = -softplus(d) and
// log(1 - p_y) = -softplus(-d). Both stay exact when p_y rounds to 0 or 1, and
// the backward pass carries a single scalar dL/dd per sample into the logits
// (times the softmax of the other classes). Written through log-probabilities
// instead, the modulation's gradient reaches each logit as two terms of size
// gamma * |log p_y| (1e4 at extreme logits) that cancel, and float32 kept only
// three digits of the difference.
import { atLabel, choiceArg, hyperArg, isLabel, logSigmoid, logSumExp } from './common.ts';
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
    // Shifted by the label's own logit first, so the log-sum-exp sees small numbers
    // when the logits are large but close. The label's entry is -1e30, not -inf
    // (see logNotLabel in common.ts).
    const shifted = g.sub(logits, g.unsqueeze(atLabel(g, logits, labels), [1]));
    const logOdds = logSumExp(g, g.where(isLabel(g, labels, classes), -1e30, shifted), 1, false);
    const logPy = logSigmoid(g, g.neg(logOdds));
    const modulation = g.exp(g.mul(hyperArg(args, 'gamma'), logSigmoid(g, logOdds)));
    const perSample = g.mul(g.neg(g.mul(modulation, logPy)), targetWeight(ctx));
    return reduceWeighted(ctx, perSample, choiceArg(args, 'reduction'));
  },
};
