// MatMul and Gemm.
import { registerGradient } from '../registry.ts';
import { floatAttr, intAttr } from './util.ts';
import type { Graph, Value } from '../../graph/graph.ts';

/** Swaps the last two axes. */
function mT(g: Graph, v: Value): Value {
  const perm = v.shape.map((_, i) => i);
  [perm[v.rank - 2], perm[v.rank - 1]] = [perm[v.rank - 1]!, perm[v.rank - 2]!];
  return g.transpose(v, perm);
}

// dA = dY B^T, dB = A^T dY; batch broadcasting is undone by the core.
registerGradient('MatMul', ({ g, x, dy, needs }) => [
  needs[0] ? g.matMul(dy[0]!, mT(g, x[1]!)) : undefined,
  needs[1] ? g.matMul(mT(g, x[0]!), dy[0]!) : undefined,
]);

// Y = alpha op(A) op(B) + beta C. Each gradient is one Gemm with the transposes folded in.
registerGradient('Gemm', ({ g, node, x, dy, needs }) => {
  const [a, b, c] = x;
  const alpha = floatAttr(node, 'alpha', 1);
  const beta = floatAttr(node, 'beta', 1);
  const tA = intAttr(node, 'transA', 0) === 1;
  const tB = intAttr(node, 'transB', 0) === 1;
  const d = dy[0]!;
  const da = !needs[0] ? undefined
    : tA ? g.gemm(b!, d, undefined, { alpha, transA: tB, transB: true })
      : g.gemm(d, b!, undefined, { alpha, transB: !tB });
  const db = !needs[1] ? undefined
    : tB ? g.gemm(d, a!, undefined, { alpha, transA: true, transB: tA })
      : g.gemm(a!, d, undefined, { alpha, transA: !tA });
  const dc = needs[2] && c ? (beta === 1 ? d : g.mul(d, beta)) : undefined;
  return [da, db, dc];
});
