// Elementwise arithmetic and activations. Results keep the broadcast output
// shape; the autodiff core reduces them to each input's shape.
import { registerGradient, registerNoGradient } from '../registry.ts';
import type { Value } from '../../graph/graph.ts';

registerGradient('Identity', ({ dy }) => [dy[0]]);
registerGradient('Add', ({ dy }) => [dy[0], dy[0]]);
registerGradient('Sub', ({ g, dy, needs }) => [dy[0], needs[1] ? g.neg(dy[0]!) : undefined]);
registerGradient('Neg', ({ g, dy }) => [g.neg(dy[0]!)]);
registerGradient('Sum', ({ x, dy }) => x.map(() => dy[0]));

registerGradient('Mul', ({ g, x, dy, needs }) => [
  needs[0] ? g.mul(dy[0]!, x[1]!) : undefined,
  needs[1] ? g.mul(dy[0]!, x[0]!) : undefined,
]);

// d(a/b) = da/b - a db/b^2 = (da - y db)/b
registerGradient('Div', ({ g, x, y, dy, needs }) => {
  const q = g.div(dy[0]!, x[1]!);
  return [needs[0] ? q : undefined, needs[1] ? g.neg(g.mul(q, y[0]!)) : undefined];
});

// d(a^b) = b a^(b-1) da + a^b log(a) db; the second term assumes a > 0.
registerGradient('Pow', ({ g, x, y, dy, needs }) => {
  const [a, b] = [x[0]!, x[1]!];
  return [
    needs[0] ? g.mul(dy[0]!, g.mul(b, g.pow(a, g.sub(b, 1)))) : undefined,
    needs[1] ? g.mul(dy[0]!, g.mul(y[0]!, g.log(a))) : undefined,
  ];
});

registerGradient('Exp', ({ g, y, dy }) => [g.mul(dy[0]!, y[0]!)]);
registerGradient('Log', ({ g, x, dy }) => [g.div(dy[0]!, x[0]!)]);
registerGradient('Reciprocal', ({ g, y, dy }) => [g.neg(g.mul(dy[0]!, g.mul(y[0]!, y[0]!)))]);
registerGradient('Sqrt', ({ g, y, dy }) => [g.div(g.mul(dy[0]!, 0.5), y[0]!)]);
registerGradient('Abs', ({ g, x, dy }) => [g.mul(dy[0]!, g.sign(x[0]!))]);
// dy * (y > 0) as a 0/1 factor: ONNX Runtime's Where costs about twice Greater + Cast + Mul here.
// (An infinite dy where y <= 0 gives NaN rather than 0; such a step is non-finite either way.)
registerGradient('Relu', ({ g, y, dy }) => [g.mul(dy[0]!, g.cast(g.greater(y[0]!, 0), y[0]!.dtype))]);
registerGradient('Sigmoid', ({ g, y, dy }) => [g.mul(dy[0]!, g.mul(y[0]!, g.sub(g.scalar(1, y[0]!.dtype), y[0]!)))]);
registerGradient('Tanh', ({ g, y, dy }) => [g.mul(dy[0]!, g.sub(g.scalar(1, y[0]!.dtype), g.mul(y[0]!, y[0]!)))]);

// Float-to-float casts pass the gradient through, cast back.
registerGradient('Cast', ({ g, x, dy }) => [g.cast(dy[0]!, x[0]!.dtype)]);

// Ties go to the first operand, so exactly one input receives each element.
registerGradient('Max', ({ g, x, dy, needs }) => pick(g, g.greaterOrEqual(x[0]!, x[1]!), dy[0]!, needs));
registerGradient('Min', ({ g, x, dy, needs }) => pick(g, g.lessOrEqual(x[0]!, x[1]!), dy[0]!, needs));

function pick(g: import('../../graph/graph.ts').Graph, firstWins: Value, d: Value, needs: readonly boolean[]) {
  return [needs[0] ? g.where(firstWins, d, 0) : undefined, needs[1] ? g.where(firstWins, 0, d) : undefined];
}

registerGradient('Where', ({ g, x, dy, needs }) => [
  undefined,
  needs[1] ? g.where(x[0]!, dy[0]!, 0) : undefined,
  needs[2] ? g.where(x[0]!, 0, dy[0]!) : undefined,
]);

// Passes the gradient where min <= x <= max (PyTorch's clamp convention).
registerGradient('Clip', ({ g, x, dy, needs }) => {
  const [v, lo, hi] = x;
  let inside: Value | undefined;
  if (lo) inside = g.greaterOrEqual(v!, lo);
  if (hi) {
    const below = g.lessOrEqual(v!, hi);
    inside = inside ? g.and(inside, below) : below;
  }
  const dv = inside ? g.where(inside, dy[0]!, 0) : dy[0]!;
  return [
    dv,
    needs[1] && lo ? g.where(g.less(v!, lo), dy[0]!, 0) : undefined,
    needs[2] && hi ? g.where(g.greater(v!, hi), dy[0]!, 0) : undefined,
  ];
});

// Comparisons and logic give booleans; Sign and the rounding ops are piecewise constant.
registerNoGradient('Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Not', 'Sign', 'Floor', 'Ceil', 'Round');
