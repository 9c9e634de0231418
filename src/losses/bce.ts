// Binary cross-entropy with logits for multi-label targets t in [0, 1]:
// softplus(z) - t z, averaged over batch and classes (PyTorch
// BCEWithLogitsLoss()), or summed. Never log(sigmoid(z)), which is -inf for z << 0.
import { choiceArg, reduceSamples, required, softplus } from './common.ts';
import type { LossDefinition, PredictContext } from './types.ts';

export const bce: LossDefinition = {
  name: 'bce',
  summary: 'binary cross-entropy with logits against multi-label targets, mean over batch and classes',
  head: 'logits',
  needs: ['targets'],
  targetRule: 'probability',
  args: [{ name: 'reduction', kind: 'choice', default: 'mean', choices: ['mean', 'sum'], doc: 'mean over batch and classes, or sum' }],
  build(ctx, args) {
    const { g, logits } = ctx;
    const t = required(ctx, 'bce', 'targets');
    const perElement = g.sub(softplus(g, logits), g.mul(t, logits));
    const reduction = choiceArg(args, 'reduction');
    return reduceSamples(ctx, reduction === 'sum' ? g.reduceSum(perElement, [1], false) : g.reduceMean(perElement, [1], false), reduction);
  },
  // Independent per-class probabilities: sigmoid, not softmax; a class is on above 0.5.
  predict: ({ g, out }: PredictContext) => ({ probabilities: g.sigmoid(out), class: g.argMax(out, 1) }),
};
