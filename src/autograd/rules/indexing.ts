// Gather-type ops. Their gradients scatter dy back with ScatterElements
// (reduction "add"), the standard-op form of ORT's GatherGrad.
import type { Graph, Value } from '../../graph/graph.ts';
import { registerGradient } from '../registry.ts';
import { intAttr, refuse, shapeOf, stringAttr } from './util.ts';

registerGradient('Gather', ({ g, node, x, dy }) => {
  const [data, idx] = [x[0]!, x[1]!];
  const axis = intAttr(node, 'axis', 0);
  const byGather = injectiveGatherGrad(g, data, idx, axis, dy[0]!);
  if (byGather) return [byGather];
  let d = dy[0]!;
  if (idx.rank === 0) d = g.unsqueeze(d, [axis]);
  if (idx.rank > 1) {
    const trailing = data.shape.slice(axis + 1);
    if (trailing.some((n) => typeof n !== 'number')) refuse(node, 'symbolic dims after the gather axis');
    d = g.reshape(d, [...data.shape.slice(0, axis).map(() => 0), -1, ...(trailing as number[])]);
  }
  const idxShape = data.shape.map((_, i) => (i === axis ? -1 : 1));
  const idxFull = g.expand(g.reshape(idx, idxShape), shapeOf(g, d));
  return [g.scatterElements(g.zerosLike(data), idxFull, d, axis, 'add')];
});

/**
 * Gather with constant 1-D indices that name each position at most once (a
 * permutation, or a selection such as grouping classes): its adjoint is a
 * Gather too, of dy at the inverse positions, with a zero column for positions
 * never gathered. One pass over data's size, where the scatter form expands
 * the indices to dy's full shape in int64 and scatters with atomic adds.
 */
function injectiveGatherGrad(g: Graph, data: Value, idx: Value, axis: number, d: Value): Value | undefined {
  const values = idx.rank === 1 ? g.constantData(idx) : undefined;
  const a = axis < 0 ? axis + data.rank : axis;
  const len = data.shape[a];
  if (!values || typeof len !== 'number') return undefined;
  const at = new Array<number>(len).fill(-1);
  for (let p = 0; p < values.length; p++) {
    const j: number = Number(values[p]!);
    const k = j < 0 ? j + len : j;
    if (k < 0 || k >= len || at[k] !== -1) return undefined;
    at[k] = p;
  }
  const missing = at.includes(-1);
  // Position values.length of the padded dy is a zero slice along the axis.
  const source = missing ? g.concat([d, g.zerosLike(g.slice(d, [0], [1], [a]))], a) : d;
  return g.gather(source, g.constant('int64', [len], at.map((p) => (p === -1 ? values.length : p))), a);
}

registerGradient('GatherElements', ({ g, node, x, dy }) => [
  g.scatterElements(g.zerosLike(x[0]!), x[1]!, dy[0]!, intAttr(node, 'axis', 0), 'add'),
]);

registerGradient('ScatterElements', ({ g, node, x, dy, needs }) => {
  const [, idx, updates] = x;
  const axis = intAttr(node, 'axis', 0);
  const reduction = stringAttr(node, 'reduction', 'none');
  if (reduction !== 'none' && reduction !== 'add') refuse(node, `reduction '${reduction}'`);
  // With 'none' the scattered positions were overwritten, so data gets no gradient there.
  const dData = !needs[0] ? undefined
    : reduction === 'add' ? dy[0]
      : g.scatterElements(dy[0]!, idx!, g.zerosLike(updates!), axis);
  return [dData, undefined, needs[2] ? g.gatherElements(dy[0]!, idx!, axis) : undefined];
});
