// Ops that index, move or reshape elements: Gather and its kin, Resize,
// Shape and Size, Reshape, Flatten, Transpose, (Un)Squeeze, Concat, Slice,
// Expand, Range, ConstantOfShape, Pad. Small integer results are tracked
// (Value.known) so later shapes stay static.
import { GraphError } from '../../errors.ts';
import { typedArray, type DType } from '../../onnx/dtype.ts';
import { tensorProto } from '../../onnx/proto.ts';
import type { IntsLike, Value } from '../core.ts';
import { attr, sliceRange, type Attr } from '../ir.ts';
import { broadcastShapes, isStatic, normAxis, reshapeShape, type Dim, type Shape } from '../shape.ts';
import { ReductionOps } from './reduce.ts';

export class ShapeOps extends ReductionOps {
  // -------------------------------------------------------- indexing ops

  gather(data: Value, indices: Value, axis = 0): Value {
    const a = normAxis(axis, data.rank, 'Gather');
    const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
    return this.emit('Gather', [data, indices], { axis: attr.int(a) }, [{ dtype: data.dtype, shape }])[0]!;
  }

  gatherElements(data: Value, indices: Value, axis = 0): Value {
    const a = normAxis(axis, data.rank, 'GatherElements');
    if (indices.rank !== data.rank) throw new GraphError(`GatherElements: indices ${indices} must have the rank of data ${data}`);
    return this.emit('GatherElements', [data, indices], { axis: attr.int(a) }, [{ dtype: data.dtype, shape: indices.shape }])[0]!;
  }

  scatterElements(data: Value, indices: Value, updates: Value, axis = 0, reduction: 'none' | 'add' | 'mul' | 'max' | 'min' = 'none'): Value {
    const a = normAxis(axis, data.rank, 'ScatterElements');
    const attrs: Record<string, Attr> = { axis: attr.int(a) };
    if (reduction !== 'none') attrs.reduction = attr.string(reduction);
    return this.emit('ScatterElements', [data, indices, updates], attrs, [{ dtype: data.dtype, shape: data.shape }])[0]!;
  }

  // ---------------------------------------------------------- shape ops

  /**
   * Bilinear resize of the two spatial axes of [N, C, H, W] to `size`
   * (half-pixel centres, as PyTorch's interpolate without antialiasing).
   * Only ever applied to inputs: it has no gradient rule.
   */
  resize(x: Value, size: [number, number]): Value {
    const sizes = this.constant('int64', [4], [0, 0, ...size]);
    const full = this.concat([this.slice(this.shape(x), [0], [2], [0]), this.slice(sizes, [2], [4], [0])], 0);
    return this.emit('Resize', [x, null, null, full],
      { mode: attr.string('linear'), coordinate_transformation_mode: attr.string('half_pixel') },
      [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, ...size] }])[0]!;
  }

  /** Size(x): the element count as an int64 scalar. */
  size(x: Value): Value {
    return this.emit('Size', [x], {}, [{ dtype: 'int64', shape: [] }])[0]!;
  }

  /** Shape(x); one node per value, however often it is asked for. */
  shape(x: Value): Value {
    const hit = this.shapeCache.get(x);
    if (hit) return hit;
    const out = this.emit('Shape', [x], {}, [{ dtype: 'int64', shape: [x.rank] }])[0]!;
    out.known = x.shape;
    this.shapeCache.set(x, out);
    return out;
  }

  /** Reshape to `shape` (0 copies the input dim, -1 is inferred), given as numbers or as an int64 Value. */
  reshape(x: Value, shape: IntsLike): Value {
    const s = this.intsValue(shape);
    if (s.rank !== 1 || typeof s.shape[0] !== 'number') throw new GraphError(`Reshape: shape must be a 1-D tensor of static length, got ${s}`);
    const requested = s.known ?? Array.from({ length: s.shape[0] }, (_, i) => `${s.name}_${i}`);
    const out = reshapeShape(x.shape, requested, false, 'Reshape');
    return this.emit('Reshape', [x, s], {}, [{ dtype: x.dtype, shape: out }])[0]!;
  }

  flatten(x: Value, axis = 1): Value {
    const a = axis < 0 ? axis + x.rank : axis;
    const prod = (ds: Shape): Dim => (isStatic(ds) ? ds.reduce((p, d) => p * d, 1) : ds.length === 1 ? ds[0]! : ds.join('*'));
    const shape = [prod(x.shape.slice(0, a)), prod(x.shape.slice(a))];
    return this.emit('Flatten', [x], { axis: attr.int(a) }, [{ dtype: x.dtype, shape }])[0]!;
  }

  transpose(x: Value, perm?: readonly number[]): Value {
    const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
    if (p.length !== x.rank) throw new GraphError(`Transpose: perm [${p}] does not fit ${x}`);
    return this.emit('Transpose', [x], { perm: attr.ints(p) }, [{ dtype: x.dtype, shape: p.map((i) => x.shape[i]!) }])[0]!;
  }

  squeeze(x: Value, axes: readonly number[]): Value {
    const norm = axes.map((a) => normAxis(a, x.rank, 'Squeeze'));
    for (const a of norm) {
      if (typeof x.shape[a] === 'number' && x.shape[a] !== 1) throw new GraphError(`Squeeze: axis ${a} of ${x} is not 1`);
    }
    const shape = x.shape.filter((_, i) => !norm.includes(i));
    const out = this.emit('Squeeze', [x, this.ints(norm)], {}, [{ dtype: x.dtype, shape }])[0]!;
    if (x.known) out.known = x.known;
    return out;
  }

  unsqueeze(x: Value, axes: readonly number[]): Value {
    const rank = x.rank + axes.length;
    const norm = axes.map((a) => normAxis(a, rank, 'Unsqueeze')).sort((a, b) => a - b);
    const shape: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : x.shape[j++]!);
    const out = this.emit('Unsqueeze', [x, this.ints(norm)], {}, [{ dtype: x.dtype, shape }])[0]!;
    if (x.known) out.known = x.known;
    return out;
  }

  concat(xs: readonly Value[], axis: number): Value {
    if (xs.length === 0) throw new GraphError('Concat: needs at least one input');
    const first = xs[0]!;
    const a = normAxis(axis, first.rank, 'Concat');
    let len: Dim = 0;
    for (const x of xs) {
      if (x.rank !== first.rank || x.dtype !== first.dtype) throw new GraphError(`Concat: ${x} does not match ${first}`);
      const d = x.shape[a]!;
      len = typeof len === 'number' && typeof d === 'number' ? len + d : `${len}+${d}`;
    }
    const shape = first.shape.map((d, i) => (i === a ? len : d));
    const out = this.emit('Concat', xs, { axis: attr.int(a) }, [{ dtype: first.dtype, shape }])[0]!;
    if (xs.every((x) => x.known) && first.rank === 1) out.known = xs.flatMap((x) => x.known!);
    return out;
  }

  /** Slice along `axes` (default: the first starts.length axes) with optional steps. */
  slice(x: Value, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Value {
    const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.rank, 'Slice'));
    const st = steps ?? starts.map(() => 1);
    const shape = [...x.shape];
    const known = x.known && x.rank === 1 ? [...x.known] : undefined;
    let knownOut = known;
    ax.forEach((a, i) => {
      const r = sliceRange(x.shape[a]!, starts[i]!, ends[i]!, st[i]!);
      shape[a] = r ? r.count : `${x.name}_slice${a}`;
      if (knownOut && r) knownOut = Array.from({ length: r.count }, (_, k) => known![r.start + k * st[i]!]!);
    });
    const inputs = [x, this.ints(starts), this.ints(ends), this.ints(ax)];
    if (steps) inputs.push(this.ints(st));
    const out = this.emit('Slice', inputs, {}, [{ dtype: x.dtype, shape }])[0]!;
    if (knownOut) out.known = knownOut;
    return out;
  }

  /** Broadcasts `x` to `shape` (numpy rules: the result may be larger than `shape`). */
  expand(x: Value, shape: IntsLike): Value {
    const s = this.intsValue(shape);
    const target = s.known ?? Array.from({ length: Number(s.shape[0]) }, (_, i) => `${s.name}_${i}`);
    const out = broadcastShapes([x.shape, target], 'Expand');
    return this.emit('Expand', [x, s], {}, [{ dtype: x.dtype, shape: out }])[0]!;
  }

  /** Numbers start, start+delta, ... below limit; the three are scalars of one dtype. */
  range(start: Value | number, limit: Value | number, delta: Value | number, dtype: DType = 'float32'): Value {
    const vals = [start, limit, delta].map((v) => (typeof v === 'number' ? this.scalar(v, dtype) : v));
    const [s, l, d] = vals.map((v) => (v.known?.[0] ?? undefined)) as (Dim | undefined)[];
    const n = [start, limit, delta].every((v) => typeof v === 'number')
      ? Math.max(Math.ceil(((limit as number) - (start as number)) / (delta as number)), 0)
      : typeof s === 'number' && typeof l === 'number' && typeof d === 'number'
        ? Math.max(Math.ceil((l - s) / d), 0)
        : `${this.name}_range`;
    return this.emit('Range', vals, {}, [{ dtype: vals[0]!.dtype, shape: [n] }])[0]!;
  }

  /** A tensor of the given (1-D int64) shape filled with `value`. */
  constantOfShape(shape: IntsLike, value: number, dtype: DType): Value {
    const s = this.intsValue(shape);
    const outShape = s.known ?? Array.from({ length: Number(s.shape[0]) }, (_, i) => `${s.name}_${i}`);
    const t = tensorProto('value', dtype, [1], typedArray(dtype, [value]));
    return this.emit('ConstantOfShape', [s], { value: { kind: 'tensor', value: t } }, [{ dtype, shape: outShape }])[0]!;
  }

  zerosLike(x: Value): Value {
    if (isStatic(x.shape)) return this.constantOfShape(x.shape, 0, x.dtype);
    // A symbolic shape: a zero broadcast by Expand, which every runtime places where x is
    // (onnxruntime-web's WebGPU provider leaves a ConstantOfShape of a computed shape on the CPU).
    return this.expand(this.scalar(0, x.dtype), this.shape(x));
  }

  /** Constant-mode padding; `pads` is [begin_0.., end_0..] over all axes. */
  pad(x: Value, pads: readonly number[], value = 0): Value {
    if (pads.length !== 2 * x.rank) throw new GraphError(`Pad: ${pads.length} pads for ${x}`);
    const shape = x.shape.map((d, i) => {
      const add = pads[i]! + pads[i + x.rank]!;
      return add === 0 ? d : typeof d === 'number' ? d + add : `${d}+${add}`;
    });
    const inputs = [x, this.ints(pads)];
    if (value !== 0) inputs.push(this.scalar(value, x.dtype));
    return this.emit('Pad', inputs, { mode: attr.string('constant') }, [{ dtype: x.dtype, shape }])[0]!;
  }
}
