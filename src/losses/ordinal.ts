// Ordinal losses on K-1 threshold logits z_k ~ logit P(label > k), as in
// coral-pytorch. CORAL (Cao, Mirjalili, Raschka 2020) trains every threshold on
// every sample; CORN (Shi, Cao, Raschka 2021) trains threshold k only on the
// samples with label >= k (a conditional probability), which makes its
// predictions rank-consistent without weight sharing. Both take optional
// importance weights per threshold (coral-pytorch's importance_weights).
import type { Graph, Value } from '../graph/graph.ts';
import { classRange, divideOrZero, logSigmoid, sampleMean, softplus } from './common.ts';
import type { LossDefinition, Predictions, PredictContext, TermContext } from './types.ts';

/** [B, K-1] float: 1 where label > k. */
function levels(g: Graph, labels: Value, classes: number, dtype: Value['dtype']): Value {
  return g.cast(g.greater(g.unsqueeze(labels, [1]), classRange(g, classes - 1, labels.dtype)), dtype);
}

/** Binary cross-entropy of each threshold logit against its level, times the threshold's importance weight. */
function thresholdBce(ctx: TermContext, level: Value): Value {
  const { g, logits: z, importance } = ctx;
  const bce = g.sub(softplus(g, z), g.mul(level, z));
  return importance ? g.mul(bce, importance) : bce;
}

/** P(label = k) from exceedance probabilities P(label > k), k = 0..K-2: [B, K]. */
function classProbabilities(g: Graph, exceed: Value): Value {
  const first = g.slice(exceed, [0], [1], [1]);
  const ones = g.add(g.mul(first, 0), 1);
  const zeros = g.mul(first, 0);
  return g.sub(g.concat([ones, exceed], 1), g.concat([exceed, zeros], 1));
}

function thresholdPredictions(g: Graph, exceed: Value, cls: Value): Predictions {
  return { probabilities: classProbabilities(g, exceed), class: cls, expectedClass: g.reduceSum(exceed, [1], false) };
}

export const coral: LossDefinition = {
  name: 'coral',
  summary: 'CORAL ordinal loss on K-1 threshold logits (binary cross-entropy per threshold, summed, batch mean)',
  head: 'thresholds',
  modelHead: 'coral',
  ordinal: true,
  args: [],
  build(ctx) {
    const { g, logits, labels, classes } = ctx;
    return sampleMean(ctx, g.reduceSum(thresholdBce(ctx, levels(g, labels, classes, logits.dtype)), [1], false));
  },
  predict: ({ g, out }: PredictContext) => thresholdPredictions(g, g.sigmoid(out), coralPredict(g, out)),
};

export const corn: LossDefinition = {
  name: 'corn',
  summary: 'CORN ordinal loss: threshold k trained on samples with label >= k; sum over tasks / number of (sample, task) pairs',
  head: 'thresholds',
  ordinal: true,
  args: [],
  build(ctx) {
    const { g, logits, labels, classes } = ctx;
    const dt = logits.dtype;
    const ks = classRange(g, classes - 1, labels.dtype);
    const inTask = g.mul(g.cast(g.greaterOrEqual(g.unsqueeze(labels, [1]), ks), dt), g.unsqueeze(ctx.keep, [1])); // label > k - 1
    const losses = g.mul(thresholdBce(ctx, levels(g, labels, classes, dt)), inTask);
    return divideOrZero(g, g.reduceSum(losses, undefined, false), g.reduceSum(inTask, undefined, false));
  },
  predict: ({ g, out, classes }: PredictContext) => thresholdPredictions(g, g.exp(cornLogExceedance(g, out, classes)), cornPredict(g, out, classes)),
};

/** CORAL prediction: the number of thresholds with sigmoid(z_k) > 0.5, i.e. z_k > 0. [B] int64. */
export function coralPredict(g: Graph, logits: Value): Value {
  // Counted in float, then cast: WebGPU has no int64 ReduceSum (the counts are small integers, exact in float).
  return g.cast(g.reduceSum(g.cast(g.greater(logits, 0), logits.dtype), [1], false), 'int64');
}

/**
 * CORN prediction: P(label > k) = prod_{j <= k} sigmoid(z_j); the class is the
 * number of k with that product above 0.5.
 */
export function cornPredict(g: Graph, logits: Value, classes: number): Value {
  return g.cast(g.reduceSum(g.cast(g.greater(cornLogExceedance(g, logits, classes), Math.log(0.5)), logits.dtype), [1], false), 'int64');
}

/**
 * log P(label > k) = sum_{j <= k} log sigmoid(z_j) under CORN, [B, K-1]: a
 * running sum, as a MatMul with the upper-triangular ones matrix U (U[j][k] = 1
 * for j <= k), so that column k sums rows j = 0..k.
 */
export function cornLogExceedance(g: Graph, logits: Value, classes: number): Value {
  const n = classes - 1;
  const upper = g.constant(logits.dtype, [n, n], Array.from({ length: n * n }, (_, i) => (Math.floor(i / n) <= i % n ? 1 : 0)));
  return g.matMul(logSigmoid(g, logits), upper);
}
