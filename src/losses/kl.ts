// KL(p || q) against soft targets p from the caller, q = softmax(logits / T).
// Summed over classes, averaged over the batch (PyTorch KLDivLoss batchmean),
// scaled by T^2 for distillation (Hinton et al.) so gradients keep their size
// as T changes. 0 log 0 counts as exactly 0: no epsilon is added to p.
import type { Graph, Value } from '../graph/graph.ts';
import { choiceArg, hyperArg, logSoftmax, reduceSamples, required } from './common.ts';
import type { LossDefinition } from './types.ts';

/**
 * sum_k p_k (log p_k - logq_k) per sample; p is not differentiated. Entries
 * with p = 0 add exactly 0 even where log p is -inf (an underflowed target).
 */
export function klPerSample(g: Graph, p: Value, logp: Value, logq: Value): Value {
  return g.reduceSum(g.where(g.greater(p, 0), g.mul(p, g.sub(logp, logq)), 0), [1], false);
}

/** log p with log 0 replaced by 0 (it is multiplied by p = 0). */
export function safeLog(g: Graph, p: Value): Value {
  return g.log(g.where(g.greater(p, 0), p, 1));
}

export const REDUCTION_BATCHMEAN = {
  name: 'reduction',
  kind: 'choice',
  default: 'batchmean',
  choices: ['batchmean', 'sum'],
  doc: 'batchmean: summed over classes, mean over the samples that count; sum: summed over the batch too',
} as const;

export const kl: LossDefinition = {
  name: 'kl',
  summary: 'KL(targets || softmax(logits / T)) * T^2, batchmean (soft targets, distillation)',
  head: 'logits',
  needs: ['targets'],
  targetRule: 'distribution',
  args: [
    { name: 'T', kind: 'hyper', default: 1, range: { min: 0, minExclusive: true }, role: 'temperature', doc: 'temperature; the loss is scaled by T^2' },
    REDUCTION_BATCHMEAN,
  ],
  build(ctx, args) {
    const { g, logits } = ctx;
    const p = required(ctx, 'kl', 'targets');
    const t = hyperArg(args, 'T');
    const logq = logSoftmax(ctx, g.div(logits, t));
    return g.mul(reduceSamples(ctx, klPerSample(g, p, safeLog(g, p), logq), choiceArg(args, 'reduction')), g.mul(t, t));
  },
};
