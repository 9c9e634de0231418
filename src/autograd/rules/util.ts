// Small helpers the gradient rules share.
import { isStatic } from '../../graph/shape.ts';
import type { Graph, Node, Value } from '../../graph/graph.ts';
import { LossgraphError } from '../../errors.ts';

/** The shape of `x` as an int64 value: a constant when static, else Shape(x). */
export function shapeOf(g: Graph, x: Value): Value {
  return isStatic(x.shape) ? g.ints(x.shape) : g.shape(x);
}

/** `d` reshaped to the shape of `x`. */
export function reshapeLike(g: Graph, d: Value, x: Value): Value {
  return g.reshape(d, shapeOf(g, x));
}

export { floatAttr, intAttr, intsAttr, stringAttr } from '../../graph/attrs.ts';

/** Contents of an int64 input known at build time (axes, starts, ...); an error otherwise. */
export function knownInts(node: Node, v: Value | null | undefined, what: string): number[] | undefined {
  if (!v) return undefined;
  if (!v.known || v.known.some((d) => typeof d !== 'number')) {
    throw new LossgraphError(`gradient of ${node.opType} (node '${node.name}') needs a constant ${what}`);
  }
  return v.known as number[];
}

export function refuse(node: Node, why: string): never {
  throw new LossgraphError(`no gradient for ${node.opType} (node '${node.name}'): ${why}`);
}
