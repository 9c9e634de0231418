// Sparse label smoothing (seed 001): label smoothing computed from the target's
// log-probability alone, so no B x K smoothed target exists. The non-target
// cross-entropy is replaced by its first-order estimate from 1 - p_y:
//
//   derived:   -(1 - eps + eps/K) log p_y - (eps (K-1)/K) log(clamp(1 - p_y, 1e-7) / (K-1))
//   published: the same with + before the second term
//
// With the minus sign the target-logit gradient is p_y - (1 - eps + eps/K),
// exactly dense label smoothing's, and the optimum is p_y = 1 - eps + eps/K.
// The published sign rewards p_y -> 1 in both terms: no smoothing at all. It is
// offered only as variant=published, to reproduce the seed's numbers.
import { atLabel, choiceArg, hyperArg } from './common.ts';
import type { LossDefinition } from './types.ts';

export const sparseLsr: LossDefinition = {
  name: 'sparse_lsr',
  summary: 'sparse label smoothing from the target log-probability only (seed 001, sign corrected)',
  head: 'logits',
  args: [
    { name: 'eps', kind: 'hyper', default: 0.1, doc: 'smoothing mass' },
    { name: 'variant', kind: 'choice', default: 'derived', choices: ['derived', 'published'], doc: "'published' keeps the seed's + sign (does not smooth)" },
  ],
  build(ctx, args) {
    const { g, logits, labels, classes } = ctx;
    const dt = logits.dtype;
    const eps = hyperArg(args, 'eps');
    const logpY = atLabel(g, g.logSoftmax(logits, 1), labels);
    const targetMass = g.add(g.sub(g.scalar(1, dt), eps), g.div(eps, classes));
    const spreadMass = g.mul(eps, (classes - 1) / classes);
    const rest = g.log(g.div(g.clip(g.sub(g.scalar(1, dt), g.exp(logpY)), 1e-7), classes - 1));
    const second = g.mul(spreadMass, rest);
    const perSample = g.sub(g.neg(g.mul(targetMass, logpY)), choiceArg(args, 'variant') === 'published' ? g.neg(second) : second);
    return g.reduceMean(perSample, [0], false);
  },
};
