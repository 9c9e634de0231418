// Rank-consistent ordinal regression heads: K-1 logits, one per threshold
// "label > k". CORAL (Cao, Mirjalili, Raschka 2020) trains every threshold on
// every sample; CORN (Shi, Cao, Raschka 2021) trains threshold k only on the
// samples with label >= k (a conditional probability), which makes its
// predictions rank-consistent without weight sharing.
import type { Graph, Value } from '../graph/graph.ts';
import { batchMean, classRange, logSigmoid, softplus } from './common.ts';
import type { LossDefinition } from './types.ts';

/** [B, K-1] float: 1 where label > k. */
function levels(g: Graph, labels: Value, classes: number, dtype: Value['dtype']): Value {
  return g.cast(g.greater(g.unsqueeze(labels, [1]), classRange(g, classes - 1, 'int64')), dtype);
}

/** Binary cross-entropy of each threshold logit against its level: softplus(z) - level z. */
function thresholdBce(g: Graph, z: Value, level: Value): Value {
  return g.sub(softplus(g, z), g.mul(level, z));
}

export const coral: LossDefinition = {
  name: 'coral',
  summary: 'CORAL ordinal loss on K-1 threshold logits (binary cross-entropy per threshold, summed, batch mean)',
  head: 'thresholds',
  args: [],
  build(ctx) {
    const { g, logits, labels, classes } = ctx;
    return batchMean(g, g.reduceSum(thresholdBce(g, logits, levels(g, labels, classes, logits.dtype)), [1], false));
  },
};

export const corn: LossDefinition = {
  name: 'corn',
  summary: 'CORN ordinal loss: threshold k trained on samples with label >= k; sum over tasks / number of (sample, task) pairs',
  head: 'thresholds',
  args: [],
  build(ctx) {
    const { g, logits, labels, classes } = ctx;
    const dt = logits.dtype;
    const ks = classRange(g, classes - 1, 'int64');
    const inTask = g.cast(g.greaterOrEqual(g.unsqueeze(labels, [1]), ks), dt); // label > k - 1
    const losses = g.mul(thresholdBce(g, logits, levels(g, labels, classes, dt)), inTask);
    return g.div(g.reduceSum(losses, undefined, false), g.reduceSum(inTask, undefined, false));
  },
};

/** CORAL prediction: the number of thresholds with sigmoid(z_k) > 0.5, i.e. z_k > 0. [B] int64. */
export function coralPredict(g: Graph, logits: Value): Value {
  return g.reduceSum(g.cast(g.greater(logits, 0), 'int64'), [1], false);
}

/**
 * CORN prediction: P(label > k) = prod_{j <= k} sigmoid(z_j); the class is the
 * number of k with that product above 0.5. The cumulative product is a running
 * sum of log-sigmoids, here through a lower-triangular MatMul.
 */
export function cornPredict(g: Graph, logits: Value, classes: number): Value {
  return g.reduceSum(g.cast(g.greater(cornLogExceedance(g, logits, classes), Math.log(0.5)), 'int64'), [1], false);
}

/** log P(label > k) = sum_{j <= k} log sigmoid(z_j) under CORN, [B, K-1]. */
export function cornLogExceedance(g: Graph, logits: Value, classes: number): Value {
  const n = classes - 1;
  const lower = g.constant(logits.dtype, [n, n], Array.from({ length: n * n }, (_, i) => (Math.floor(i / n) <= i % n ? 1 : 0)));
  return g.matMul(logSigmoid(g, logits), lower);
}
