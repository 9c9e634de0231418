// Softmax and LogSoftmax along one axis (opset 13+ semantics).
import { registerGradient } from '../registry.ts';
import { intAttr } from './util.ts';

// dx = y * (dy - sum(dy * y))
registerGradient('Softmax', ({ g, node, y, dy }) => {
  const axis = intAttr(node, 'axis', -1);
  const s = g.reduceSum(g.mul(dy[0]!, y[0]!), [axis], true);
  return [g.mul(y[0]!, g.sub(dy[0]!, s))];
});

// dx = dy - softmax(x) * sum(dy), with softmax(x) = exp(y)
registerGradient('LogSoftmax', ({ g, node, y, dy }) => {
  const axis = intAttr(node, 'axis', -1);
  const s = g.reduceSum(dy[0]!, [axis], true);
  return [g.sub(dy[0]!, g.mul(g.exp(y[0]!), s))];
});
