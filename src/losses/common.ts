// Building blocks the losses share. All are compositions of primitive ops, so
// the autodiff differentiates them like any other graph.
import { LossgraphError } from '../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';
import type { ArgValue, LossContext, Need } from './types.ts';

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
  return g.cast(g.equal(g.unsqueeze(labels, [1]), classRange(g, classes, 'int64')), dtype);
}

/** x[b, labels[b]] for x [B, K]: [B]. */
export function atLabel(g: Graph, x: Value, labels: Value): Value {
  return g.squeeze(g.gatherElements(x, g.unsqueeze(labels, [1]), 1), [1]);
}

/** Mean over the batch of a per-sample [B] value. */
export function batchMean(g: Graph, perSample: Value): Value {
  return g.reduceMean(perSample, [0], false);
}

/** The context's `need`, or a clear error naming the loss and what to supply. */
export function required<K extends Need>(ctx: LossContext, loss: string, need: K): NonNullable<LossContext[K]> {
  const v = ctx[need];
  if (v === undefined) {
    const how: Record<Need, string> = {
      targets: 'soft or multi-hot targets (B x K), "targets" in the probe JSON',
      weights: 'class weights (K), "weights" in the probe JSON',
      hierarchy: 'a class hierarchy, "groups" in the probe JSON',
      embeddings: 'class embeddings (K x D), "embeddings" in the probe JSON',
    };
    throw new LossgraphError(`loss '${loss}' needs ${how[need]}`);
  }
  return v as NonNullable<LossContext[K]>;
}

export const hyperArg = (args: Readonly<Record<string, ArgValue>>, name: string): Value => args[name] as Value;
export const intArg = (args: Readonly<Record<string, ArgValue>>, name: string): number => args[name] as number;
export const choiceArg = <T extends string>(args: Readonly<Record<string, ArgValue>>, name: string): T => args[name] as T;
