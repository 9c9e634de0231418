// Reductions. The upstream gradient is brought back to the reduced axes
// (Unsqueeze when keepdims=0) and broadcast over the input by Expand.
import { registerGradient, registerNoGradient, type GradContext } from '../registry.ts';
import { intAttr, knownInts, shapeOf } from './util.ts';
import { elementCount } from '../../graph/counts.ts';
import type { Value } from '../../graph/graph.ts';

/** Reduced axes (all when absent) and dy/y with the reduced axes kept as size 1. */
function kept(ctx: GradContext): { axes: number[]; d: Value; y: Value } {
  const { g, node, x } = ctx;
  const rank = x[0]!.rank;
  const given = knownInts(node, x[1], 'axes');
  const axes = given && given.length ? given.map((a) => (a < 0 ? a + rank : a)) : Array.from({ length: rank }, (_, i) => i);
  const keep = intAttr(node, 'keepdims', 1) === 1;
  const d = keep ? ctx.dy[0]! : g.unsqueeze(ctx.dy[0]!, axes);
  const y = keep ? ctx.y[0]! : g.unsqueeze(ctx.y[0]!, axes);
  return { axes, d, y };
}

registerGradient('ReduceSum', (ctx) => [ctx.g.expand(kept(ctx).d, shapeOf(ctx.g, ctx.x[0]!))]);

registerGradient('ReduceMean', (ctx) => {
  const { g, x } = ctx;
  const { axes, d } = kept(ctx);
  const count = elementCount(g, x[0]!, axes);
  return [g.expand(g.div(d, count), shapeOf(g, x[0]!))];
});

// The gradient is shared equally among tied maxima.
registerGradient('ReduceMax', (ctx) => {
  const { g, x } = ctx;
  const { axes, d, y } = kept(ctx);
  const mask = g.cast(g.equal(x[0]!, y), x[0]!.dtype);
  const ties = g.reduceSum(mask, axes, true);
  return [g.mul(mask, g.div(d, ties))];
});

// d logsumexp(x) = softmax(x) over the reduced axes.
registerGradient('ReduceLogSumExp', (ctx) => {
  const { g, x } = ctx;
  const { d, y } = kept(ctx);
  return [g.mul(d, g.exp(g.sub(x[0]!, y)))];
});

// Positions, not values.
registerNoGradient('ArgMax', 'ArgMin');
