// How many elements lie along some axes of a value, as a scalar of its float
// type. With a symbolic dimension the usual way is int64 shape arithmetic
// (Shape, Gather, ReduceProd, Cast), which onnxruntime-web's WebGPU provider
// cannot run; for the WebGPU target a symbolic dimension is counted as the sum
// of ones over a one-element-wide slice of the value along it instead. ORT's
// CUDA provider has no int64 ReduceProd: for the CUDA target the dimensions
// are cast to the float type first (its ReduceProd has float kernels).
import type { Graph, Value } from './graph.ts';
import { formsOf } from './forms.ts';

/** Ones of x's shape and type, computed from x so they keep its symbolic dimensions (all on WebGPU). */
export function onesLike(g: Graph, x: Value): Value {
  // Equal(v, v) is false for NaN, and Where picks 1 either way: ones even where x is not finite.
  return g.where(g.equal(x, x), g.scalar(1, x.dtype), g.scalar(1, x.dtype));
}

export function elementCount(g: Graph, x: Value, axes: readonly number[]): Value {
  const known = axes.reduce((p, a) => p * (typeof x.shape[a] === 'number' ? (x.shape[a] as number) : 1), 1);
  const symbolic = axes.filter((a) => typeof x.shape[a] !== 'number');
  if (symbolic.length === 0) return g.scalar(known, x.dtype);
  const form = formsOf(g).elementCount;
  if (form === 'float ReduceProd') return g.reduceProd(g.cast(g.gather(g.shape(x), g.ints(axes)), x.dtype), undefined, false);
  if (form === 'int64 ReduceProd') return g.cast(g.reduceProd(g.gather(g.shape(x), g.ints(axes)), undefined, false), x.dtype);
  let count: Value = g.scalar(known, x.dtype);
  for (const a of symbolic) {
    const others = Array.from({ length: x.rank }, (_, i) => i).filter((i) => i !== a);
    const line = g.slice(x, others.map(() => 0), others.map(() => 1), others);
    count = g.mul(count, g.reduceSum(onesLike(g, line), undefined, false));
  }
  return count;
}
