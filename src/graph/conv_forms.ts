// Convolution expressed through other standard ops. The Conv gradient rules
// use these forms (they measured faster than the alternatives on CPU), and the
// float64 lowering uses them because ONNX Runtime has no double Conv kernel.
import { GraphError } from '../errors.ts';
import { windowAttrs, type Graph, type Value } from './graph.ts';
import { windowOut } from './shape.ts';
import { sumLeadingAxes } from './sums.ts';
import { formsOf } from './forms.ts';

export interface WindowAttrs {
  kernel: number[];
  strides: number[];
  /** [begin..., end...] over the spatial axes. */
  pads: number[];
  dilations: number[];
}

export function fullWindow(kernel: number[], o: { strides?: number[]; pads?: number[]; dilations?: number[] }): WindowAttrs {
  return { kernel, ...windowAttrs(kernel.length, o) };
}

export function staticSpatial(x: Value, what: string): number[] {
  return x.shape.slice(2).map((d) => {
    if (typeof d !== 'number') throw new GraphError(`${what}: spatial dimensions of ${x} must be static`);
    return d;
  });
}

/** Output spatial size of a window op with floor rounding. */
export function windowOutputs(spatial: number[], a: WindowAttrs, what: string): number[] {
  const sp = spatial.length;
  return a.kernel.map((k, i) => windowOut(spatial[i]!, k, a.strides[i]!, a.pads[i]!, a.pads[i + sp]!, a.dilations[i]!, false, what));
}

/**
 * Patches of `x` [N, C, *space] under a sliding window: [N, C, K, *out] with
 * K = prod(kernel), one strided Slice of the padded input per kernel offset.
 */
export function extractPatches(g: Graph, x: Value, a: WindowAttrs): { patches: Value; out: number[] } {
  const sp = a.kernel.length;
  const out = windowOutputs(staticSpatial(x, 'patches'), a, 'patches');
  const padded = a.pads.some((p) => p !== 0) ? g.pad(x, [0, 0, ...a.pads.slice(0, sp), 0, 0, ...a.pads.slice(sp)]) : x;
  const axes = a.kernel.map((_, i) => 2 + i);
  const slices: Value[] = [];
  for (const offset of kernelOffsets(a.kernel)) {
    const starts = offset.map((o, i) => o * a.dilations[i]!);
    const ends = starts.map((s, i) => s + a.strides[i]! * (out[i]! - 1) + 1);
    const steps = a.strides.some((s) => s !== 1) ? a.strides : undefined;
    slices.push(g.unsqueeze(g.slice(padded, starts, ends, axes, steps), [2]));
  }
  return { patches: slices.length === 1 ? slices[0]! : g.concat(slices, 2), out };
}

/**
 * The same patches as extractPatches, [N, C*K, *out], from one grouped Conv
 * whose kernel is one-hot: output channel c*K + k copies input channel c at
 * kernel offset k. Each output is one x times 1 plus zeros, so the values are
 * exact (an infinite x spreads NaN over its window instead). On ONNX Runtime's
 * CPU provider this takes about half the time of a Pad, K strided Slices and
 * a Concat; it has no float64 Conv, so float64 graphs keep the Slices.
 */
export function patchesByConv(g: Graph, x: Value, a: WindowAttrs): { patches: Value; out: number[] } {
  const c = x.shape[1];
  if (typeof c !== 'number') throw new GraphError(`patches: the channel count of ${x} must be static`);
  const out = windowOutputs(staticSpatial(x, 'patches'), a, 'patches');
  const k = a.kernel.reduce((p, d) => p * d, 1);
  const oneHot = new Array<number>(c * k * k).fill(0);
  for (let ch = 0; ch < c; ch++) for (let j = 0; j < k; j++) oneHot[(ch * k + j) * k + j] = 1;
  const kernel = g.constant(x.dtype, [c * k, 1, ...a.kernel], oneHot);
  return { patches: g.conv(x, kernel, undefined, { strides: a.strides, pads: a.pads, dilations: a.dilations, group: c }), out };
}

/** Row-major list of kernel offsets, e.g. [[0,0],[0,1],...] for a 2-D kernel. */
function kernelOffsets(kernel: number[]): number[][] {
  let acc: number[][] = [[]];
  for (const k of kernel) acc = acc.flatMap((prefix) => Array.from({ length: k }, (_, i) => [...prefix, i]));
  return acc;
}

/** Patches as a matrix [N * prod(out), C * K], rows ordered (n, out...). */
function patchRows(g: Graph, patches: Value, sp: number, ck: number): Value {
  const perm = [0, ...Array.from({ length: sp }, (_, i) => 3 + i), 1, 2];
  return g.reshape(g.transpose(patches, perm), [-1, ck]);
}

/**
 * d loss / d W of Conv(x, W) given dy: patches of x times dy. The patches stay
 * in their [N, C*K, P] layout (a free reshape) and only dy is transposed: a
 * batched MatMul per sample, then a sum over the batch. Transposing the much
 * larger patch tensor instead cost about a fifth of a small CNN's step; on
 * small maps with many output channels it is the per-sample product that is
 * larger, and one GEMM over the transposed patches wins.
 */
export function convWeightGrad(g: Graph, x: Value, dy: Value, wShape: number[], a: WindowAttrs): Value {
  const { patches, out } = x.dtype === 'float32' ? patchesByConv(g, x, a) : extractPatches(g, x, a);
  const ck = wShape.slice(1).reduce((p, d) => p * d, 1);
  const positions = out.reduce((p, d) => p * d, 1);
  const o = wShape[0]!;
  if (formsOf(g).convGradients === 'chosen by shape' && o > positions) {
    // More output channels than positions: per-sample gradients [N, C*K, O] would outweigh the
    // patches, so transpose the patches instead and make one GEMM over batch and positions
    // (cnn:32,64,128's third block on 7x7 maps: 2.2 instead of 3.1 ms).
    const rows = g.reshape(g.transpose(g.reshape(patches, [-1, ck, positions]), [1, 0, 2]), [ck, -1]); // [C*K, N*P]
    const dyRows = g.reshape(g.transpose(g.reshape(dy, [-1, o, positions]), [1, 0, 2]), [o, -1]); // [O, N*P]
    return g.reshape(g.matMul(dyRows, g.transpose(rows, [1, 0])), wShape);
  }
  const perSample = g.reshape(patches, [-1, ck, positions]); // [N, C*K, P]
  const dyT = g.transpose(g.reshape(dy, [-1, o, positions]), [0, 2, 1]); // [N, P, O]
  const perSampleGrads = g.matMul(perSample, dyT); // [N, C*K, O]
  const summed = sumLeadingAxes(g, perSampleGrads, 1) ?? g.reduceSum(perSampleGrads, [0], false); // [C*K, O]
  return g.reshape(g.transpose(summed, [1, 0]), wShape);
}

/**
 * d loss / d W of a grouped Conv (G > 1, depthwise included), W [O, C/G, *k]:
 * per group, the patches of its input channels times its output channels' dy,
 * summed over the batch. Patches [N, G, (C/G)*K, P] times dy [N, G, P, O/G].
 */
export function groupedConvWeightGrad(g: Graph, x: Value, dy: Value, wShape: number[], a: WindowAttrs, group: number): Value {
  const { patches, out } = x.dtype === 'float32' ? patchesByConv(g, x, a) : extractPatches(g, x, a);
  const cgk = wShape.slice(1).reduce((p, d) => p * d, 1);
  const og = wShape[0]! / group;
  const positions = out.reduce((p, d) => p * d, 1);
  const perGroup = g.reshape(patches, [-1, group, cgk, positions]); // [N, G, Cg*K, P]
  const dyT = g.transpose(g.reshape(dy, [-1, group, og, positions]), [0, 1, 3, 2]); // [N, G, P, Og]
  const summed = g.reduceSum(g.matMul(perGroup, dyT), [0], false); // [G, Cg*K, Og]
  return g.reshape(g.transpose(summed, [0, 2, 1]), wShape);
}

/** Conv(x, W) + b as patches times the reshaped kernel (for runtimes without a Conv kernel of this dtype). */
export function convByPatches(g: Graph, x: Value, w: Value, b: Value | null, a: WindowAttrs, group = 1): Value {
  const sp = a.kernel.length;
  const wShape = w.shape.map(Number);
  const o = wShape[0]!;
  const ck = wShape.slice(1).reduce((p, d) => p * d, 1);
  const { patches, out } = extractPatches(g, x, a);
  const positions = out.reduce((p, d) => p * d, 1);
  if (group !== 1) {
    // Per group: patches [N, G, P, Cg*K] times that group's kernels [G, Cg*K, Og].
    const og = o / group;
    const rows = g.transpose(g.reshape(patches, [-1, group, ck, positions]), [0, 1, 3, 2]);
    const wMat = g.transpose(g.reshape(w, [group, og, ck]), [0, 2, 1]);
    let y = g.reshape(g.transpose(g.matMul(rows, wMat), [0, 1, 3, 2]), [0, o, ...out]);
    if (b) y = g.add(y, g.reshape(b, [1, o, ...out.map(() => 1)]));
    return y;
  }
  const rows = g.reshape(patchRows(g, patches, sp, ck), [-1, positions, ck]);
  const wMat = g.transpose(g.reshape(w, [o, ck]), [1, 0]);
  let y = g.reshape(g.transpose(g.matMul(rows, wMat), [0, 2, 1]), [0, o, ...out]);
  if (b) y = g.add(y, g.reshape(b, [1, o, ...out.map(() => 1)]));
  return y;
}

/**
 * The adjoint of Conv(., W) applied to dy: the input gradient of a convolution,
 * which is also ConvTranspose(dy, W). Computed as a stride-1 Conv of dy,
 * dilated by the stride and padded, with the flipped, channel-transposed
 * kernel. `xSpatial` is the spatial size of the result.
 */
export function convInputGrad(g: Graph, dy: Value, w: Value, xSpatial: number[], a: WindowAttrs, group = 1): Value {
  const sp = a.kernel.length;
  const out = staticSpatial(dy, 'Conv input gradient');
  let d = dy;
  const strided = a.strides.some((s) => s !== 1);
  if (strided) {
    // Interleave zeros: [N,O,o1,o2] -> [N,O,o1,1,o2,1] -> pad to [N,O,o1,s1,o2,s2] -> [N,O,o1*s1,o2*s2].
    const unsq = Array.from({ length: sp }, (_, i) => 3 + 2 * i);
    const u = g.unsqueeze(d, unsq);
    const pads = Array(2 * u.rank).fill(0);
    unsq.forEach((ax, i) => (pads[u.rank + ax] = a.strides[i]! - 1));
    d = g.reshape(g.pad(u, pads), [0, 0, ...out.map((o, i) => o * a.strides[i]!)]);
  }
  const begin: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < sp; i++) {
    const reach = (a.kernel[i]! - 1) * a.dilations[i]!;
    const len = out[i]! * a.strides[i]!; // includes the stride-1 trailing zeros
    const pb = reach - a.pads[i]!;
    begin.push(pb);
    end.push(xSpatial[i]! + reach - pb - len);
  }
  // Negative padding means cropping; Conv's pads attribute must be non-negative.
  if (begin.some((p) => p < 0) || end.some((p) => p < 0)) {
    const len = staticSpatial(d, 'Conv input gradient');
    d = g.slice(d, begin.map((p) => Math.max(0, -p)), end.map((p, i) => len[i]! - Math.max(0, -p)), begin.map((_, i) => 2 + i));
  }
  // The kernel with input and output channels swapped within each group: [O, C/G, *k] -> [C, O/G, *k].
  const spatialAxes = Array.from({ length: sp }, (_, i) => 2 + i);
  const swapped = group === 1
    ? g.transpose(w, [1, 0, ...spatialAxes])
    : swapGroupChannels(g, w, group);
  const flipped = g.slice(
    swapped,
    Array(sp).fill(-1),
    Array(sp).fill(-(2 ** 62)),
    Array.from({ length: sp }, (_, i) => 2 + i),
    Array(sp).fill(-1),
  );
  return g.conv(d, flipped, undefined, {
    pads: [...begin.map((p) => Math.max(0, p)), ...end.map((p) => Math.max(0, p))],
    dilations: a.dilations,
    ...(group !== 1 ? { group } : {}),
  });
}

/** [O, C/G, *k] -> [C, O/G, *k]: each group's kernel with its input and output channels swapped. */
function swapGroupChannels(g: Graph, w: Value, group: number): Value {
  const [o, cg, ...k] = w.shape.map(Number) as [number, number, ...number[]];
  const og = o / group;
  const perGroup = g.reshape(w, [group, og, cg, ...k]);
  const t = g.transpose(perGroup, [0, 2, 1, ...k.map((_, i) => 3 + i)]);
  return g.reshape(t, [group * cg, og, ...k]);
}

/**
 * The input gradient of Conv(x, W) in the form that runs faster on ONNX
 * Runtime's CPU provider. convInputGrad's Conv builds an im2col buffer from dy,
 * the output side; ConvTranspose(dy, W) instead multiplies W^T by dy and folds
 * the columns back (col2im). Measured for 3x3 kernels, batch 64, stride 1:
 * ConvTranspose is 20-25% faster on maps of 4x4 and 7x7 when the output side
 * is at least as wide as the input (64 -> 128 channels), and 25-40% slower on
 * 10x10 and larger or when the output side is narrower. So: ConvTranspose for
 * float32 CPU graphs with stride 1, no dilation, O >= C and at most 64
 * positions per map; the Conv form everywhere else (float64 graphs, which the
 * finite-difference checks run, and WebGPU graphs keep it).
 */
export function convInputGradFor(g: Graph, dy: Value, w: Value, xSpatial: number[], a: WindowAttrs, group = 1): Value {
  if (group !== 1) return convInputGrad(g, dy, w, xSpatial, a, group);
  const [o, c] = w.shape;
  const positions = xSpatial.reduce((p, d) => p * d, 1);
  const plain = a.strides.every((s) => s === 1) && a.dilations.every((d) => d === 1);
  if (formsOf(g).convGradients === 'chosen by shape' && dy.dtype === 'float32' && plain && typeof o === 'number' && typeof c === 'number' && o >= c && positions <= 64) {
    return g.convTranspose(dy, w, undefined, { pads: a.pads });
  }
  return convInputGrad(g, dy, w, xSpatial, a);
}

/**
 * 1 / (number of input elements inside each window), as a constant
 * [1, 1, *out]: AveragePool's divisor when padding is not counted.
 */
export function inverseWindowCounts(g: Graph, spatial: number[], a: WindowAttrs, includePad: boolean, dtype: Value['dtype']): Value {
  const sp = a.kernel.length;
  const out = windowOutputs(spatial, a, 'AveragePool');
  const perAxis = out.map((o, i) =>
    Array.from({ length: o }, (_, j) => {
      if (includePad) return a.kernel[i]!;
      let c = 0;
      for (let t = 0; t < a.kernel[i]!; t++) {
        const pos = j * a.strides[i]! - a.pads[i]! + t * a.dilations[i]!;
        if (pos >= 0 && pos < spatial[i]!) c++;
      }
      return c;
    }),
  );
  const total = out.reduce((p, d) => p * d, 1);
  const data = new Array<number>(total);
  for (let flat = 0; flat < total; flat++) {
    let rest = flat;
    let count = 1;
    for (let i = sp - 1; i >= 0; i--) {
      count *= perAxis[i]![rest % out[i]!]!;
      rest = Math.floor(rest / out[i]!);
    }
    data[flat] = 1 / count;
  }
  return g.constant(dtype, [1, 1, ...out], data);
}

/** A kernel of ones [1, 1, *kernel]: window sums as a single-channel Conv. */
export function onesKernel(g: Graph, kernel: number[], dtype: Value['dtype']): Value {
  return g.constant(dtype, [1, 1, ...kernel], Array(kernel.reduce((p, k) => p * k, 1)).fill(1));
}
