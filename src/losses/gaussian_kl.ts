// Seed 000's ordinal penalty: KL(p_sigma || softmax(logits)), where p_sigma is a
// Gaussian mound over the class indices centred on the true class,
// p_k proportional to exp(-(k - y)^2 / (2 sigma^2)). sigma is a standard
// deviation in class steps. Built inside the graph from the labels (no B x K
// table is fed) with sigma a graph input, so a schedule can shrink it every
// epoch. Used as `ce + alpha*gaussian_kl(sigma=2)`.
//
// The mound's peak, at k = y, is exp(0) = 1, so its normaliser sum_k exp(.)
// is at least 1 and log p needs no shift. As sigma -> 0 the off-peak scores
// underflow to exp(-inf) = 0, p becomes one-hot and the loss becomes plain
// cross-entropy; entries with p = 0 add exactly 0 (never 0 * -inf), so the
// loss and its gradient stay finite for every sigma > 0.
//
// Seed 000 sums its KL over the batch; reduction=batchmean (ours, PyTorch's
// KLDivLoss default) divides by B, so the seed's alpha equals B times ours.
// reduction=sum reproduces the seed's scale.
import { choiceArg, classRange, hyperArg, logSoftmax, reduceSamples } from './common.ts';
import { REDUCTION_BATCHMEAN, klPerSample } from './kl.ts';
import type { LossDefinition } from './types.ts';

export const gaussianKl: LossDefinition = {
  name: 'gaussian_kl',
  summary: 'KL from a Gaussian mound over ordinal classes centred on the label (seed 000), batchmean',
  head: 'logits',
  ordinal: true,
  args: [
    {
      name: 'sigma',
      kind: 'hyper',
      default: 1,
      range: { min: 0, minExclusive: true },
      schedule: 'sigma',
      doc: 'standard deviation of the mound in class steps; --sigma-decay shrinks it per epoch',
    },
    REDUCTION_BATCHMEAN,
  ],
  build(ctx, args) {
    const { g, logits, labels, classes } = ctx;
    const dt = logits.dtype;
    const sigma = hyperArg(args, 'sigma');
    const offset = g.div(g.sub(classRange(g, classes, dt), g.unsqueeze(g.cast(labels, dt), [1])), sigma);
    const score = g.mul(g.mul(offset, offset), -0.5);
    const logp = g.sub(score, g.log(g.reduceSum(g.exp(score), [1], true)));
    const p = g.exp(logp);
    return reduceSamples(ctx, klPerSample(g, p, logp, logSoftmax(ctx, logits)), choiceArg(args, 'reduction'));
  },
};

export interface SigmaSchedule {
  sigma0: number;
  /** Multiplicative decay per epoch (seed 000: exponential decay, like a learning rate). */
  gamma: number;
  sigmaMin: number;
  /** What gamma multiplies each epoch: sigma (default), or the variance sigma^2 (sigma then falls by sqrt(gamma)). */
  of?: 'sigma' | 'variance';
}

/** sigma for epoch e (0-based): max(sigmaMin, sigma0 * gamma^e), or gamma^(e/2) when the variance decays. */
export function sigmaAtEpoch(epoch: number, s: SigmaSchedule): number {
  const perEpoch = s.of === 'variance' ? Math.sqrt(s.gamma) : s.gamma;
  return Math.max(s.sigmaMin, s.sigma0 * perEpoch ** epoch);
}
