// KL(p || q) against soft targets p from the caller, q = softmax(logits / T).
// Summed over classes, averaged over the batch (PyTorch KLDivLoss batchmean),
// scaled by T^2 for distillation (Hinton et al.) so gradients keep their size
// as T changes. 0 log 0 counts as exactly 0: no epsilon is added to p.
import type { Graph, Value } from '../graph/graph.ts';
import { hyperArg, required } from './common.ts';
import type { LossDefinition } from './types.ts';

/** sum_k p_k (log p_k - logq_k) per sample, with 0 log 0 = 0; p is not differentiated. */
export function klPerSample(g: Graph, p: Value, logp: Value, logq: Value): Value {
  return g.reduceSum(g.mul(p, g.sub(logp, logq)), [1], false);
}

/** log p with log 0 replaced by 0 (it is multiplied by p = 0). */
export function safeLog(g: Graph, p: Value): Value {
  return g.log(g.where(g.greater(p, 0), p, 1));
}

export const kl: LossDefinition = {
  name: 'kl',
  summary: 'KL(targets || softmax(logits / T)) * T^2, batchmean (soft targets, distillation)',
  head: 'logits',
  needs: ['targets'],
  args: [{ name: 'T', kind: 'hyper', default: 1, doc: 'temperature; the loss is scaled by T^2' }],
  build(ctx, args) {
    const { g, logits } = ctx;
    const p = required(ctx, 'kl', 'targets');
    const t = hyperArg(args, 'T');
    const logq = g.logSoftmax(g.div(logits, t), 1);
    return g.mul(g.reduceMean(klPerSample(g, p, safeLog(g, p), logq), [0], false), g.mul(t, t));
  },
};
