// Sparse label smoothing (seed 001): label smoothing computed from the target's
// log-probability alone, so no B x K smoothed target exists. The non-target
// cross-entropy is replaced by its first-order estimate from 1 - p_y:
//
//   derived:   -(1 - eps + eps/K) log p_y - (eps (K-1)/K) log((1 - p_y) / (K-1))
//              (dense smoothing, its non-target sum at equal non-target probabilities:
//              never above dense smoothing, by Jensen, and equal when they are)
//   published: -(1 - eps + eps/K) log p_y + (eps (K-1)/K) log(clamp(1 - p_y, 1e-7) / (K-1))
//
// With the minus sign the target-logit gradient is p_y - (1 - eps + eps/K),
// exactly dense label smoothing's, and the optimum is p_y = 1 - eps + eps/K.
//
// log(1 - p_y) is the log-sum-exp of the non-target log-probabilities, exact
// at any logit scale: computing 1 - exp(log p_y) instead loses everything once
// p_y rounds to 1 (|z| ~ 37 in float64, ~ 17 in float32), and the seed's clamp
// at 1e-7 then zeroes the gradient just where the model is confident, which is
// where smoothing matters.
//
// The published sign rewards p_y -> 1 in both terms: no smoothing at all. It
// is offered only as variant=published, to reproduce the seed's numbers, and
// computes exactly what the seed's code does, the clamp included.
import { atLabel, choiceArg, hyperArg, logNotLabel, logSoftmax, reduceSamples } from './common.ts';
import type { LossDefinition } from './types.ts';

export const sparseLsr: LossDefinition = {
  name: 'sparse_lsr',
  summary: 'sparse label smoothing from the target log-probability only (seed 001): dense smoothing with the non-target sum taken at equal non-target probabilities',
  head: 'logits',
  args: [
    { name: 'eps', kind: 'hyper', default: 0.1, range: { min: 0, max: 1 }, doc: 'smoothing mass' },
    { name: 'variant', kind: 'choice', default: 'derived', choices: ['derived', 'published'], doc: "'published' is the seed's code: + sign (does not smooth) and a 1e-7 clamp" },
    { name: 'reduction', kind: 'choice', default: 'mean', choices: ['mean', 'sum'], doc: 'over the samples that count' },
  ],
  build(ctx, args) {
    const { g, logits, labels, classes } = ctx;
    const dt = logits.dtype;
    const eps = hyperArg(args, 'eps');
    const logp = logSoftmax(ctx, logits);
    const logpY = atLabel(g, logp, labels);
    const targetMass = g.add(g.sub(g.scalar(1, dt), eps), g.div(eps, classes));
    const spreadMass = g.mul(eps, (classes - 1) / classes);
    const published = choiceArg(args, 'variant') === 'published';
    let logRest: typeof logp;
    if (published) {
      logRest = g.log(g.clip(g.sub(g.scalar(1, dt), g.exp(logpY)), 1e-7));
    } else {
      logRest = logNotLabel(g, logp, labels, classes);
    }
    const second = g.mul(spreadMass, g.sub(logRest, Math.log(classes - 1)));
    const perSample = g.sub(g.neg(g.mul(targetMass, logpY)), published ? g.neg(second) : second);
    return reduceSamples(ctx, perSample, choiceArg(args, 'reduction'));
  },
};
