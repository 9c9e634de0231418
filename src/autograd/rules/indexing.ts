// Gather-type ops. Their gradients scatter dy back with ScatterElements
// (reduction "add"), the standard-op form of ORT's GatherGrad.
import { registerGradient } from '../registry.ts';
import { intAttr, refuse, shapeOf, stringAttr } from './util.ts';

registerGradient('Gather', ({ g, node, x, dy }) => {
  const [data, idx] = [x[0]!, x[1]!];
  const axis = intAttr(node, 'axis', 0);
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
