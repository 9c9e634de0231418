// Binary cross-entropy with logits for multi-label targets t in [0, 1]:
// softplus(z) - t z, averaged over batch and classes (PyTorch
// BCEWithLogitsLoss()). Never log(sigmoid(z)), which is -inf for z << 0.
import { required, softplus } from './common.ts';
import type { LossDefinition } from './types.ts';

export const bce: LossDefinition = {
  name: 'bce',
  summary: 'binary cross-entropy with logits against multi-label targets, mean over batch and classes',
  head: 'logits',
  needs: ['targets'],
  args: [],
  build(ctx) {
    const { g, logits } = ctx;
    const t = required(ctx, 'bce', 'targets');
    return g.reduceMean(g.sub(softplus(g, logits), g.mul(t, logits)), undefined, false);
  },
};
