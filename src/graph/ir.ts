// The graph builder's vocabulary: targets, the opset, node attributes and op
// options, and the small static helpers ops and gradient rules share.
import { GraphError } from '../errors.ts';
import type { TensorProto } from '../onnx/proto.ts';
import type { Dim } from './shape.ts';

/** The runtimes a graph can be built for (see Graph.target). */
export const TARGETS = ['cpu', 'webgpu', 'cuda'] as const;
export type Target = (typeof TARGETS)[number];

/** The single opset every graph lossgraph emits is written against. */
export const OPSET = 18;
/** IR version matching OPSET (ONNX 1.13). */
export const IR_VERSION = 8;

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorProto };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
};

export interface ConvOptions {
  strides?: number[];
  /** [begin_0, begin_1, ..., end_0, end_1, ...] as ONNX orders them. */
  pads?: number[];
  dilations?: number[];
  group?: number;
}

export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: number[];
}

export interface PoolOptions {
  kernelShape: number[];
  strides?: number[];
  pads?: number[];
  dilations?: number[];
  ceilMode?: boolean;
}

export interface AveragePoolOptions extends PoolOptions {
  countIncludePad?: boolean;
}

/** Window attributes with defaults filled in, for `spatial` spatial axes. */
export function windowAttrs(spatial: number, o: { strides?: number[]; pads?: number[]; dilations?: number[] }) {
  return {
    strides: o.strides ?? Array(spatial).fill(1),
    pads: o.pads ?? Array(2 * spatial).fill(0),
    dilations: o.dilations ?? Array(spatial).fill(1),
  };
}

/** Normalised [start, count] of a static slice along a dim, or undefined when the dim is symbolic. */
export function sliceRange(dim: Dim, start: number, end: number, step: number): { start: number; count: number } | undefined {
  if (typeof dim !== 'number') {
    if (step === 1 && start >= 0 && end >= 0 && end < 2 ** 62) return { start, count: Math.max(end - start, 0) };
    return undefined;
  }
  if (step === 0) throw new GraphError('Slice: step must not be 0');
  const clampS = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clampS(s, 0, dim);
    e = clampS(e, 0, dim);
    return { start: s, count: Math.max(Math.ceil((e - s) / step), 0) };
  }
  s = clampS(s, 0, dim - 1);
  e = clampS(e, -1, dim - 1);
  return { start: s, count: Math.max(Math.ceil((e - s) / step), 0) };
}
