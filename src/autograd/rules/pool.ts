// Pooling.
import { registerGradient } from '../registry.ts';
import { nodeWindow } from '../../graph/attrs.ts';
import { convInputGrad, inverseWindowCounts, onesKernel, staticSpatial } from '../../graph/conv_forms.ts';
import { intAttr, intsAttr, refuse, reshapeLike, shapeOf } from './util.ts';

// The maximum's flat index (MaxPool's second output) routes each dy to exactly
// one input element. Comparing x with the upsampled output instead would hand
// the gradient to every tied element, which is wrong on flat backgrounds.
registerGradient('MaxPool', ({ g, node, x, y, dy }) => {
  if (intAttr(node, 'storage_order', 0) !== 0) refuse(node, 'storage_order = 1');
  const kernelShape = intsAttr(node, 'kernel_shape')!;
  const opts = {
    kernelShape,
    strides: intsAttr(node, 'strides'),
    pads: intsAttr(node, 'pads'),
    dilations: intsAttr(node, 'dilations'),
    ceilMode: intAttr(node, 'ceil_mode', 0) === 1,
  };
  // Reuse the forward node's indices when it computed them; else recompute (cheap next to a Conv).
  const idx = y[1] ?? g.maxPoolWithIndices(x[0]!, opts)[1];
  const flatZeros = g.reshape(g.zerosLike(x[0]!), [-1]);
  const scattered = g.scatterElements(flatZeros, g.reshape(idx, [-1]), g.reshape(dy[0]!, [-1]), 0, 'add');
  return [g.reshape(scattered, shapeOf(g, x[0]!))];
});

// Each output spread evenly over its window: dy / count, then the adjoint of a
// window sum, which is a Conv input gradient with a kernel of ones, per channel.
registerGradient('AveragePool', ({ g, node, x, dy }) => {
  if (intAttr(node, 'ceil_mode', 0) === 1) refuse(node, 'ceil_mode = 1');
  const kernel = intsAttr(node, 'kernel_shape')!;
  const a = nodeWindow(node, kernel);
  const spatial = staticSpatial(x[0]!, 'AveragePool');
  const dt = x[0]!.dtype;
  const scaled = g.mul(dy[0]!, inverseWindowCounts(g, spatial, a, intAttr(node, 'count_include_pad', 0) === 1, dt));
  const perChannel = g.reshape(scaled, [-1, 1, ...staticSpatial(dy[0]!, 'AveragePool')]);
  return [reshapeLike(g, convInputGrad(g, perChannel, onesKernel(g, kernel, dt), spatial, a), x[0]!)];
});

registerGradient('GlobalAveragePool', ({ g, x, dy }) => {
  const spatial = staticSpatial(x[0]!, 'GlobalAveragePool');
  const count = spatial.reduce((p, d) => p * d, 1);
  return [g.expand(g.div(dy[0]!, count), shapeOf(g, x[0]!))];
});
