// Cross-entropy on logits: mean over the batch of -log softmax(z)[y].
// LogSoftmax keeps it finite for any logits (no log of a rounded-to-zero probability).
import type { Graph, Value } from '../graph/graph.ts';
import type { LossDefinition, LossInputs } from './types.ts';

/** -log p(y) per sample, shape [B]. */
export function crossEntropyPerSample(g: Graph, logits: Value, labels: Value): Value {
  const logp = g.logSoftmax(logits, 1);
  const picked = g.gatherElements(logp, g.unsqueeze(labels, [1]), 1);
  return g.neg(g.squeeze(picked, [1]));
}

export const ce: LossDefinition = {
  name: 'ce',
  summary: 'cross-entropy on logits, mean over the batch',
  build: (g: Graph, { logits, labels }: LossInputs) => g.reduceMean(crossEntropyPerSample(g, logits, labels), [0], false),
};
