// Pooling.
import { registerGradient } from '../registry.ts';
import { nodeWindow } from '../../graph/attrs.ts';
import { convInputGrad, inverseWindowCounts, onesKernel, staticSpatial } from '../../graph/conv_forms.ts';
import type { Graph, Value } from '../../graph/graph.ts';
import { intAttr, intsAttr, refuse, reshapeLike, shapeOf } from './util.ts';
import { formsOf } from '../../graph/forms.ts';

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
  if (!y[1]) {
    // Without indices: route by comparison where the window allows it (each target its measured form).
    const routed = (formsOf(g).maxPoolTraining === 'one MaxPool, window slots' ? maxPoolGradByWindowSlots : maxPoolGradAlongOneAxis)(g, x[0]!, y[0]!, dy[0]!, opts);
    if (routed) return [routed];
  }
  // Reuse the forward node's indices when it computed them; else recompute (cheap next to a Conv).
  const idx = y[1] ?? g.maxPoolWithIndices(x[0]!, opts)[1];
  // Windows that do not overlap never share an index: MaxUnpool places each dy
  // without a zero tensor and a scatter-add (about a third of the time on CPU).
  if (!overlapping(opts)) {
    return [g.maxUnpool(dy[0]!, idx, shapeOf(g, x[0]!), x[0]!, opts)];
  }
  const flatZeros = g.reshape(g.zerosLike(x[0]!), [-1]);
  const scattered = g.scatterElements(flatZeros, g.reshape(idx, [-1]), g.reshape(dy[0]!, [-1]), 0, 'add');
  return [g.reshape(scattered, shapeOf(g, x[0]!))];
});

/** True when some input element lies in two windows (a stride below the dilated kernel extent). */
function overlapping(o: { kernelShape: number[]; strides?: number[]; dilations?: number[] }): boolean {
  return o.kernelShape.some((k, i) => (o.strides?.[i] ?? 1) < (k - 1) * (o.dilations?.[i] ?? 1) + 1);
}

/**
 * MaxPool's gradient for windows along one spatial axis only (kernel [1, k]
 * or [k, 1], stride = kernel, no padding or dilation): the form of the CPU
 * training graphs, which pool 2x2 as [1, 2] then [2, 1] (max is associative,
 * so the output is the same). The slots of each window lie along one axis:
 * dy goes to the first slot that equals the window's maximum, later ties get
 * nothing (the order MaxPool's indices give, row-major over the 2-D window,
 * since the column pass runs first). All branch-free elementwise work on
 * ONNX Runtime's CPU provider, where MaxPool with Indices takes several times
 * the plain MaxPool on real activations. Returns undefined for other windows.
 */
function maxPoolGradAlongOneAxis(g: Graph, x: Value, y: Value, dy: Value, o: { kernelShape: number[]; strides?: number[]; pads?: number[]; dilations?: number[]; ceilMode: boolean }): Value | undefined {
  if (o.kernelShape.length !== 2 || o.ceilMode) return undefined;
  if ((o.strides ?? [1, 1]).some((s, i) => s !== o.kernelShape[i])) return undefined;
  if ((o.pads ?? []).some((p) => p !== 0) || (o.dilations ?? []).some((d) => d !== 1)) return undefined;
  const along = o.kernelShape.filter((k) => k > 1);
  if (along.length !== 1) return undefined;
  const k = along[0]!;
  const axis = o.kernelShape[0]! > 1 ? 2 : 3;
  const dims = x.shape.slice(1).concat(y.shape.slice(2));
  if (!dims.every((d) => typeof d === 'number')) return undefined;
  const [C, H, W] = x.shape.slice(1) as number[];
  const n = Number(y.shape[axis]);
  const length = axis === 2 ? H! : W!;
  // Rows or columns past the last whole window get no gradient: drop them, pad them back at the end.
  const whole = length === n * k ? x : g.slice(x, [0], [n * k], [axis]);
  // Rows: [B, C, Ho, k, W], the window's slots on their own axis (a free reshape).
  const rows = axis === 2 ? g.reshape(whole, [0, C!, n, k, W!]) : undefined;
  const out = g.unsqueeze(y, [axis + 1]);
  const grad = g.unsqueeze(dy, [axis + 1]);
  const slot = (j: number): Value => {
    if (rows) return g.slice(rows, [j], [j + 1], [3]);
    // Column j of each window along the innermost axis: a 0/1 selection
    // matrix [W, Wo] is one small MatMul, where a strided Slice or a Gather
    // copies element by element (several times slower here).
    const select = new Array<number>(n * k * n).fill(0);
    for (let i = 0; i < n; i++) select[(i * k + j) * n + i] = 1;
    return g.unsqueeze(g.matMul(whole, g.constant(x.dtype, [n * k, n], select)), [4]);
  };
  const parts: Value[] = [];
  let rest = grad;
  for (let j = 0; j < k - 1; j++) {
    // The first slot holding the maximum takes what is left of dy; the last slot takes the remainder.
    const mine = g.mul(rest, g.cast(g.equal(slot(j), out), x.dtype));
    parts.push(mine);
    rest = g.sub(rest, mine);
  }
  parts.push(rest);
  const routed = g.reshape(g.concat(parts, axis + 1), axis === 2 ? [0, C!, n * k, W!] : [0, C!, H!, n * k]);
  if (length === n * k) return routed;
  const pads = [0, 0, 0, 0, 0, 0, 0, 0];
  pads[4 + axis] = length - n * k;
  return g.pad(routed, pads);
}

/**
 * MaxPool's gradient without indices, for non-overlapping windows (kernel =
 * strides, no padding or dilation): each of the kh*kw window slots is a strided
 * Slice of x; dy goes to the first slot, in row-major order, that holds the
 * window's maximum, exactly where MaxPool's indices point, so tied values get
 * the gradient once. Only elementwise ops, Slice, Concat, Reshape, Transpose
 * and Pad: all run on WebGPU. Returns undefined for other windows.
 */
function maxPoolGradByWindowSlots(g: Graph, x: Value, y: Value, dy: Value, o: { kernelShape: number[]; strides?: number[]; pads?: number[]; dilations?: number[]; ceilMode: boolean }): Value | undefined {
  const [kh, kw] = o.kernelShape as [number, number];
  if (o.kernelShape.length !== 2 || o.ceilMode) return undefined;
  if ((o.strides ?? [1, 1]).some((s, i) => s !== o.kernelShape[i])) return undefined;
  if ((o.pads ?? []).some((p) => p !== 0) || (o.dilations ?? []).some((d) => d !== 1)) return undefined;
  const [c, h, w] = [x.shape[1], x.shape[2], x.shape[3]];
  const [ho, wo] = [y.shape[2], y.shape[3]];
  if (![c, h, w, ho, wo].every((d) => typeof d === 'number')) return undefined;
  const [C, H, W, Ho, Wo] = [c, h, w, ho, wo] as number[];
  let taken: Value | undefined;
  const parts: Value[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const slot = g.slice(x, [i, j], [i + kh * Ho!, j + kw * Wo!], [2, 3], [kh, kw]);
      // 0/1 masks in the data type: the first slot holding the maximum takes it, later ties do not.
      const isMax = g.cast(g.equal(slot, y), x.dtype);
      const first = taken ? g.mul(isMax, g.sub(g.scalar(1, x.dtype), taken)) : isMax;
      taken = taken ? g.add(taken, first) : first;
      parts.push(g.unsqueeze(g.mul(first, dy), [4]));
    }
  }
  // [B, C, Ho, Wo, kh*kw] -> [B, C, Ho, kh, Wo, kw] -> [B, C, Ho*kh, Wo*kw], then zeros for rows and columns no window covers.
  const stacked = g.reshape(g.concat(parts, 4), [0, C!, Ho!, Wo!, kh, kw]);
  const covered = g.reshape(g.transpose(stacked, [0, 1, 2, 4, 3, 5]), [0, C!, Ho! * kh, Wo! * kw]);
  const [padH, padW] = [H! - Ho! * kh, W! - Wo! * kw];
  return padH || padW ? g.pad(covered, [0, 0, 0, 0, 0, 0, padH, padW]) : covered;
}

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
