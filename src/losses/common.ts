// Building blocks the losses share. All are compositions of primitive ops, so
// the autodiff differentiates them like any other graph.
import { LossgraphError } from '../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';
import type { ArgValue, LossContext, Need, TermContext } from './types.ts';
import { formsOf } from '../graph/forms.ts';

/**
 * softplus(z) = log(1 + e^z), stable for any z: z + log(1 + e^-z) for z > 0 and
 * log(1 + e^z) otherwise, so the exponent is never positive. Written with Where
 * on both sides (not relu and abs) so the gradient is sigmoid(z) at z = 0 as well.
 */
export function softplus(g: Graph, z: Value): Value {
  const positive = g.greater(z, 0);
  return g.add(g.where(positive, z, 0), g.log(g.add(g.exp(g.where(positive, g.neg(z), z)), 1)));
}

/** log sigmoid(z) = -softplus(-z). */
export function logSigmoid(g: Graph, z: Value): Value {
  return g.neg(softplus(g, g.neg(z)));
}

/** Class indices 0..n-1 as a [n] constant of `dtype`. */
export function classRange(g: Graph, n: number, dtype: Value['dtype']): Value {
  return g.constant(dtype, [n], Array.from({ length: n }, (_, i) => i));
}

/** One-hot rows [B, K] of `dtype` for int64 labels [B]. */
export function oneHot(g: Graph, labels: Value, classes: number, dtype: Value['dtype']): Value {
  return g.cast(isLabel(g, labels, classes), dtype);
}

/** [B, K] bool: class k is sample b's label. */
export function isLabel(g: Graph, labels: Value, classes: number): Value {
  return g.equal(g.unsqueeze(labels, [1]), classRange(g, classes, labels.dtype));
}

/**
 * log softmax over axis 1. For the WebGPU target it is x - logsumexp(x):
 * onnxruntime-web's WebGPU provider has ReduceLogSumExp but no LogSoftmax
 * kernel, and the CPU keeps the single fused op.
 */
export function logSoftmax(ctx: LossContext, x: Value): Value {
  const { g } = ctx;
  return formsOf(g).logSoftmax === 'x - logsumexp' ? g.sub(x, g.reduceLogSumExp(x, [1], true)) : g.logSoftmax(x, 1);
}

/**
 * log sum exp along one axis, as s + log(sum(exp(x - s))) with the shift
 * s = floor(max(x)): every exp is at most e and the largest at least 1, so
 * nothing overflows or underflows to log 0, and since Floor has no gradient
 * the backward pass is just softmax(x) (the value does not depend on s). It
 * takes about a third of ONNX Runtime's ReduceLogSumExp on the CPU (B = 256,
 * K = 32000), and its ops all run on WebGPU.
 */
export function logSumExp(g: Graph, x: Value, axis: number, keepdims: boolean): Value {
  const shift = g.floor(g.reduceMax(x, [axis], true));
  const lse = g.add(g.log(g.reduceSum(g.exp(g.sub(x, shift)), [axis], true)), shift);
  return keepdims ? lse : g.squeeze(lse, [axis]);
}

/** x[b, labels[b]] for x [B, K]: [B]. */
export function atLabel(g: Graph, x: Value, labels: Value): Value {
  return g.squeeze(g.gatherElements(x, g.unsqueeze(labels, [1]), 1), [1]);
}

/** x / d, with 0 where d is 0 (a batch whose every sample is ignored adds nothing, not NaN). */
export function divideOrZero(g: Graph, x: Value, d: Value): Value {
  const empty = g.equal(d, 0);
  return g.div(x, g.where(empty, g.scalar(1, d.dtype), d));
}

/**
 * Mean over the samples that count (labels other than ignore_index) of a
 * per-sample [B] value; ignored samples add nothing to the sum or the count.
 */
export function sampleMean(ctx: TermContext, perSample: Value): Value {
  const { g } = ctx;
  return divideOrZero(g, g.reduceSum(g.mul(perSample, ctx.keep), [0], false), g.reduceSum(ctx.keep, [0], false));
}

/** Sum over the samples that count of a per-sample [B] value. */
export function sampleSum(ctx: TermContext, perSample: Value): Value {
  return ctx.g.reduceSum(ctx.g.mul(perSample, ctx.keep), [0], false);
}

/** Per-sample values reduced by 'mean' (over the samples that count) or 'sum'. */
export function reduceSamples(ctx: TermContext, perSample: Value, reduction: string): Value {
  return reduction === 'sum' ? sampleSum(ctx, perSample) : sampleMean(ctx, perSample);
}

/** The context's `need`, or a clear error naming the loss and what to supply. */
export function required<K extends Need>(ctx: LossContext, loss: string, need: K): NonNullable<LossContext[K]> {
  const v = ctx[need];
  if (v === undefined) {
    const how: Record<Need, string> = {
      targets: 'targets (B x K: soft, multi-hot or regression), "targets" in the probe JSON',
      weights: 'class weights (K), "weights" in the probe JSON',
      hierarchy: 'a class hierarchy, "groups" in the probe JSON',
      embeddings: 'class embeddings (K x D), "embeddings" in the probe JSON',
    };
    throw new LossgraphError(`loss '${loss}' needs ${how[need]}`);
  }
  return v as NonNullable<LossContext[K]>;
}

export const hyperArg = (args: Readonly<Record<string, ArgValue>>, name: string): Value => args[name] as Value;
export const choiceArg = <T extends string>(args: Readonly<Record<string, ArgValue>>, name: string): T => args[name] as T;

/**
 * log(1 - p_y) per sample from log-probabilities [B, K]: the log-sum-exp of the
 * non-target entries, exact at any logit scale (1 - exp(log p_y) rounds to 0
 * once p_y rounds to 1). Non-targets get -1e30 rather than -inf: ONNX Runtime's
 * ReduceLogSumExp mishandles rows mixing -inf with large negative values.
 */
export function logNotLabel(g: Graph, logp: Value, labels: Value, classes: number): Value {
  return logSumExp(g, g.where(isLabel(g, labels, classes), -1e30, logp), 1, false);
}
