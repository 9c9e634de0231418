// Seed 000's ordinal penalty: KL(p_sigma || softmax(logits)), where p_sigma is a
// Gaussian mound over the class indices centred on the true class,
// p_k proportional to exp(-(k - y)^2 / (2 sigma^2)). Built inside the graph from
// the labels (no B x K table is fed) with sigma a graph input, so a schedule
// can shrink it every epoch. log p comes from a log-sum-exp, so far-away
// classes get tiny but exact probabilities and 0 log 0 never arises.
// Used as `ce + alpha*gaussian_kl(sigma=2)`.
import { classRange, hyperArg } from './common.ts';
import { klPerSample } from './kl.ts';
import type { LossDefinition } from './types.ts';

export const gaussianKl: LossDefinition = {
  name: 'gaussian_kl',
  summary: 'KL from a Gaussian mound over ordinal classes centred on the label (seed 000), batchmean',
  head: 'logits',
  args: [{ name: 'sigma', kind: 'hyper', default: 1, doc: 'width of the mound in classes; decays per epoch under a schedule' }],
  build(ctx, args) {
    const { g, logits, labels, classes } = ctx;
    const dt = logits.dtype;
    const sigma = hyperArg(args, 'sigma');
    const offset = g.div(g.sub(classRange(g, classes, dt), g.unsqueeze(g.cast(labels, dt), [1])), sigma);
    const score = g.mul(g.mul(offset, offset), -0.5);
    const logp = g.sub(score, g.reduceLogSumExp(score, [1], true));
    const p = g.exp(logp);
    return g.reduceMean(klPerSample(g, p, logp, g.logSoftmax(logits, 1)), [0], false);
  },
};

export interface SigmaSchedule {
  sigma0: number;
  /** Multiplicative decay per epoch (seed 000: exponential decay, like a learning rate). */
  gamma: number;
  sigmaMin: number;
}

/** sigma for epoch e (0-based): max(sigmaMin, sigma0 * gamma^e). Fed as the graph input, no rebuild. */
export function sigmaAtEpoch(epoch: number, s: SigmaSchedule): number {
  return Math.max(s.sigmaMin, s.sigma0 * s.gamma ** epoch);
}
