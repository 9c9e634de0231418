// The graph builder: a Graph hands out typed Values, and every ONNX op is one
// method that records one node and infers its outputs' dtype and shape.
//
// Names are deterministic (a per-prefix counter inside the current scope), so
// building the same graph twice serialises to identical bytes.
import { GraphError } from '../errors.ts';
import { ONNX_DTYPE_CODE, typedArray, type AnyTypedArray, type DType } from '../onnx/dtype.ts';
import { encodeModel, onnx, tensorProto, type ModelProto, type TensorProto } from '../onnx/proto.ts';
import {
  broadcastShapes,
  isStatic,
  normAxis,
  reshapeShape,
  shapeToString,
  windowOut,
  type Dim,
  type Shape,
} from './shape.ts';

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

export class Value {
  /** The node that computes this value; undefined for graph inputs and initializers. */
  producer?: Node;
  /**
   * Contents known while building, for small integer tensors (constants, and
   * the output of Shape). Entries may be symbolic dims. Lets Reshape, Expand
   * and Slice infer static shapes.
   */
  known?: readonly Dim[];

  constructor(
    readonly graph: Graph,
    /** Unique in its graph; only Graph.output changes it (to give a node's output its output name). */
    public name: string,
    readonly dtype: DType,
    readonly shape: Shape,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${shapeToString(this.shape)}`;
  }
}

export interface Node {
  readonly opType: string;
  readonly name: string;
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, Attr>>;
}

interface Initializer {
  value: Value;
  data: AnyTypedArray;
}

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

type IntsLike = Value | readonly number[];

/** Window attributes with defaults filled in, for `spatial` spatial axes. */
export function windowAttrs(spatial: number, o: { strides?: number[]; pads?: number[]; dilations?: number[] }) {
  return {
    strides: o.strides ?? Array(spatial).fill(1),
    pads: o.pads ?? Array(2 * spatial).fill(0),
    dilations: o.dilations ?? Array(spatial).fill(1),
  };
}

export class Graph {
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly nodes: Node[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly constCache = new Map<string, Value>();
  private readonly shapeCache = new Map<Value, Value>();
  private scopes: string[] = [];

  /**
   * The runtime the graph is for. 'webgpu': layers and gradient rules emit forms
   * onnxruntime-web's WebGPU provider runs without CPU fallback where it lacks a
   * kernel the CPU form needs (MaxPool's indices, int64 shape arithmetic).
   * 'cuda': the CPU forms, but no int64 ReduceProd, and training-mode batch norm
   * lowered after autodiff (cuda_forms.ts): ORT's CUDA provider refuses the one
   * and has no kernel for the other.
   */
  readonly target: Target;

  constructor(readonly name = 'lossgraph', target: Target = 'cpu') {
    this.target = target;
  }

  // ---------------------------------------------------------------- naming

  /** Runs `fn` with names prefixed by `scope/`, e.g. the backward pass under `grad/`. */
  scope<T>(scope: string, fn: () => T): T {
    this.scopes.push(scope);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** A fresh deterministic name `scope/base_N`, or `base` itself when `exact`. */
  private freshName(base: string, exact = false): string {
    if (exact) {
      if (this.names.has(base)) throw new GraphError(`graph '${this.name}': the name '${base}' is already used`);
      this.names.add(base);
      return base;
    }
    const prefix = this.scopes.length ? `${this.scopes.join('/')}/${base}` : base;
    let n = this.counters.get(prefix) ?? 0;
    let name: string;
    do name = `${prefix}_${n++}`;
    while (this.names.has(name));
    this.counters.set(prefix, n);
    this.names.add(name);
    return name;
  }

  // ------------------------------------------------ inputs, outputs, constants

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = new Value(this, this.freshName(name, true), dtype, shape);
    this.inputs.push(v);
    return v;
  }

  /**
   * Marks `v` as a graph output named `name`. A node's output that is not yet
   * an output is renamed; a graph input, an initializer or a value already
   * output under another name gets an Identity (ONNX Runtime copies through an
   * Identity whose input has other consumers: a whole optimizer state tensor).
   */
  output(v: Value, name?: string): Value {
    let out = v;
    if (name !== undefined && name !== v.name) {
      if (v.producer && !this.outputs.includes(v)) {
        this.freshName(name, true);
        this.names.delete(v.name);
        v.name = name;
      } else {
        out = this.emit('Identity', [v], {}, [{ dtype: v.dtype, shape: v.shape }], name)[0]!;
      }
    }
    if (this.outputs.includes(out)) throw new GraphError(`graph '${this.name}': '${out.name}' is already an output`);
    this.outputs.push(out);
    return out;
  }

  /** A named tensor stored in the model (weights baked into an inference graph, lookup tables). */
  initializer(name: string, dtype: DType, shape: readonly number[], data: ArrayLike<number | bigint | boolean>): Value {
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new GraphError(`initializer '${name}': ${data.length} values for shape ${shapeToString(shape)}`);
    const v = new Value(this, this.freshName(name, true), dtype, shape);
    this.initializers.push({ value: v, data: typedArray(dtype, data) });
    return v;
  }

  /** The data of a constant (an initializer of this graph), or undefined for any other value. */
  constantData(v: Value): ArrayLike<number | bigint | boolean> | undefined {
    return this.initializers.find((init) => init.value === v)?.data as ArrayLike<number | bigint | boolean> | undefined;
  }

  /**
   * A constant tensor. Identical small constants are shared, so the graph
   * stays small and the same build gives the same names.
   */
  constant(dtype: DType, shape: readonly number[], data: ArrayLike<number | bigint | boolean>): Value {
    const arr = typedArray(dtype, data);
    const key = arr.length <= 64 ? `${dtype}|${shape.join(',')}|${Array.from(arr as ArrayLike<number | bigint>).join(',')}` : undefined;
    const hit = key && this.constCache.get(key);
    if (hit) return hit;
    const n = shape.reduce((a, b) => a * b, 1);
    if (arr.length !== n) throw new GraphError(`constant: ${arr.length} values for shape ${shapeToString(shape)}`);
    const v = new Value(this, this.freshName('const'), dtype, shape);
    if ((dtype === 'int64' || dtype === 'int32') && arr.length <= 64) {
      v.known = Array.from(arr as ArrayLike<number | bigint>, (x) => Number(x));
    }
    this.initializers.push({ value: v, data: arr });
    if (key) this.constCache.set(key, v);
    return v;
  }

  /** A scalar constant of dtype `dtype` (usually the dtype of the value it combines with). */
  scalar(x: number, dtype: DType = 'float32'): Value {
    return this.constant(dtype, [], [x]);
  }

  /** A 1-D int64 constant, as ONNX wants for axes, shapes, starts and ends. */
  ints(xs: readonly number[]): Value {
    return this.constant('int64', [xs.length], xs);
  }

  private intsValue(xs: IntsLike): Value {
    return xs instanceof Value ? xs : this.ints(xs);
  }

  // ------------------------------------------------------------- core emit

  /** Records one node. Op methods call this after inferring their outputs. */
  emit(
    opType: string,
    inputs: readonly (Value | null)[],
    attrs: Record<string, Attr>,
    outs: readonly { dtype: DType; shape: Shape }[],
    outputName?: string,
  ): Value[] {
    for (const v of inputs) {
      if (v && v.graph !== this) throw new GraphError(`${opType}: input '${v.name}' belongs to another graph`);
    }
    const name = this.freshName(opType);
    const outputs = outs.map((o, i) => {
      const vname = i === 0 && outputName !== undefined ? this.freshName(outputName, true) : i === 0 ? name : `${name}_out${i}`;
      if (i > 0) this.names.add(vname);
      return new Value(this, vname, o.dtype, o.shape);
    });
    const node: Node = { opType, name, inputs, outputs, attrs };
    for (const v of outputs) v.producer = node;
    this.nodes.push(node);
    return outputs;
  }

  private unary(opType: string, x: Value, attrs: Record<string, Attr> = {}): Value {
    return this.emit(opType, [x], attrs, [{ dtype: x.dtype, shape: x.shape }])[0]!;
  }

  private binary(opType: string, a: Value, b: Value, outDtype?: DType): Value {
    if (a.dtype !== b.dtype) throw new GraphError(`${opType}: dtypes differ (${a} vs ${b})`);
    const shape = broadcastShapes([a.shape, b.shape], opType);
    return this.emit(opType, [a, b], {}, [{ dtype: outDtype ?? a.dtype, shape }])[0]!;
  }

  /** `b` as a Value: numbers become scalar constants of `like`'s dtype. */
  private lift(b: Value | number, like: Value): Value {
    return typeof b === 'number' ? this.scalar(b, like.dtype) : b;
  }

  // -------------------------------------------------------- elementwise math

  add(a: Value, b: Value | number): Value { return this.binary('Add', a, this.lift(b, a)); }
  sub(a: Value, b: Value | number): Value { return this.binary('Sub', a, this.lift(b, a)); }
  mul(a: Value, b: Value | number): Value { return this.binary('Mul', a, this.lift(b, a)); }
  div(a: Value, b: Value | number): Value { return this.binary('Div', a, this.lift(b, a)); }
  pow(a: Value, b: Value | number): Value { return this.binary('Pow', a, this.lift(b, a)); }
  /** Integer remainder with the sign of the divisor (fmod = 0). */
  mod(a: Value, b: Value | number): Value { return this.binary('Mod', a, this.lift(b, a)); }
  max(a: Value, b: Value | number): Value { return this.binary('Max', a, this.lift(b, a)); }
  min(a: Value, b: Value | number): Value { return this.binary('Min', a, this.lift(b, a)); }
  equal(a: Value, b: Value | number): Value { return this.binary('Equal', a, this.lift(b, a), 'bool'); }
  less(a: Value, b: Value | number): Value { return this.binary('Less', a, this.lift(b, a), 'bool'); }
  lessOrEqual(a: Value, b: Value | number): Value { return this.binary('LessOrEqual', a, this.lift(b, a), 'bool'); }
  greater(a: Value, b: Value | number): Value { return this.binary('Greater', a, this.lift(b, a), 'bool'); }
  greaterOrEqual(a: Value, b: Value | number): Value { return this.binary('GreaterOrEqual', a, this.lift(b, a), 'bool'); }
  and(a: Value, b: Value): Value { return this.binary('And', a, b, 'bool'); }
  not(x: Value): Value { return this.unary('Not', x); }

  neg(x: Value): Value { return this.unary('Neg', x); }
  exp(x: Value): Value { return this.unary('Exp', x); }
  log(x: Value): Value { return this.unary('Log', x); }
  sqrt(x: Value): Value { return this.unary('Sqrt', x); }
  abs(x: Value): Value { return this.unary('Abs', x); }
  floor(x: Value): Value { return this.unary('Floor', x); }
  sign(x: Value): Value { return this.unary('Sign', x); }
  relu(x: Value): Value { return this.unary('Relu', x); }
  sigmoid(x: Value): Value { return this.unary('Sigmoid', x); }
  tanh(x: Value): Value { return this.unary('Tanh', x); }
  reciprocal(x: Value): Value { return this.unary('Reciprocal', x); }
  identity(x: Value): Value { return this.unary('Identity', x); }

  /** Elementwise sum of any number of values (broadcasting), one node. */
  sum(xs: readonly Value[]): Value {
    if (xs.length === 0) throw new GraphError('Sum: needs at least one input');
    if (xs.length === 1) return xs[0]!;
    const shape = broadcastShapes(xs.map((x) => x.shape), 'Sum');
    return this.emit('Sum', xs, {}, [{ dtype: xs[0]!.dtype, shape }])[0]!;
  }

  where(cond: Value, a: Value | number, b: Value | number): Value {
    const like = a instanceof Value ? a : (b as Value);
    if (!(like instanceof Value)) throw new GraphError('Where: one branch must be a Value');
    const av = this.lift(a, like);
    const bv = this.lift(b, like);
    if (cond.dtype !== 'bool') throw new GraphError(`Where: condition must be bool, got ${cond}`);
    if (av.dtype !== bv.dtype) throw new GraphError(`Where: branch dtypes differ (${av} vs ${bv})`);
    const shape = broadcastShapes([cond.shape, av.shape, bv.shape], 'Where');
    return this.emit('Where', [cond, av, bv], {}, [{ dtype: av.dtype, shape }])[0]!;
  }

  cast(x: Value, to: DType): Value {
    const out = this.emit('Cast', [x], { to: attr.int(ONNX_DTYPE_CODE[to]) }, [{ dtype: to, shape: x.shape }])[0]!;
    if (x.known && (to === 'int64' || to === 'int32')) out.known = x.known;
    return out;
  }

  clip(x: Value, min?: Value | number, max?: Value | number): Value {
    const lo = min === undefined ? null : this.lift(min, x);
    const hi = max === undefined ? null : this.lift(max, x);
    return this.emit('Clip', [x, lo, hi], {}, [{ dtype: x.dtype, shape: x.shape }])[0]!;
  }

  // ------------------------------------------------------------ normalisers

  softmax(x: Value, axis = -1): Value {
    normAxis(axis, x.rank, 'Softmax');
    return this.unary('Softmax', x, { axis: attr.int(axis) });
  }

  logSoftmax(x: Value, axis = -1): Value {
    normAxis(axis, x.rank, 'LogSoftmax');
    return this.unary('LogSoftmax', x, { axis: attr.int(axis) });
  }

  // --------------------------------------------------------------- reductions

  private reduce(opType: string, x: Value, axes: readonly number[] | undefined, keepdims: boolean): Value {
    const all = axes === undefined || axes.length === 0;
    const norm = all ? x.shape.map((_, i) => i) : axes.map((a) => normAxis(a, x.rank, opType));
    const shape: Dim[] = [];
    x.shape.forEach((d, i) => {
      if (!norm.includes(i)) shape.push(d);
      else if (keepdims) shape.push(1);
    });
    const inputs = all ? [x] : [x, this.ints(norm)];
    return this.emit(opType, inputs, { keepdims: attr.int(keepdims ? 1 : 0) }, [{ dtype: x.dtype, shape }])[0]!;
  }

  /** Sums over `axes` (all axes when omitted). */
  reduceSum(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceSum', x, axes, keepdims); }
  reduceMean(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceMean', x, axes, keepdims); }
  reduceMax(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceMax', x, axes, keepdims); }
  reduceProd(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceProd', x, axes, keepdims); }
  reduceLogSumExp(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceLogSumExp', x, axes, keepdims); }

  /** Running sum along `axis` (inclusive); same shape as x. */
  cumSum(x: Value, axis: number): Value {
    normAxis(axis, x.rank, 'CumSum');
    return this.emit('CumSum', [x, this.scalar(axis, 'int64')], {}, [{ dtype: x.dtype, shape: x.shape }])[0]!;
  }

  argMax(x: Value, axis = -1, keepdims = false): Value {
    const a = normAxis(axis, x.rank, 'ArgMax');
    const shape = x.shape.flatMap((d, i) => (i !== a ? [d] : keepdims ? [1] : []));
    return this.emit('ArgMax', [x], { axis: attr.int(a), keepdims: attr.int(keepdims ? 1 : 0) }, [{ dtype: 'int64', shape }])[0]!;
  }

  // ------------------------------------------------------------ linear algebra

  matMul(a: Value, b: Value): Value {
    if (a.dtype !== b.dtype) throw new GraphError(`MatMul: dtypes differ (${a} vs ${b})`);
    if (a.rank < 2 || b.rank < 2) throw new GraphError(`MatMul: operands must have rank >= 2 (${a}, ${b})`);
    const [m, k1] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
      throw new GraphError(`MatMul: inner dimensions differ (${a} vs ${b})`);
    }
    const batch = broadcastShapes([a.shape.slice(0, -2), b.shape.slice(0, -2)], 'MatMul');
    return this.emit('MatMul', [a, b], {}, [{ dtype: a.dtype, shape: [...batch, m!, n!] }])[0]!;
  }

  /** alpha * op(A) op(B) + beta * C, with op the optional transpose. */
  gemm(a: Value, b: Value, c?: Value, o: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {}): Value {
    if (a.rank !== 2 || b.rank !== 2) throw new GraphError(`Gemm: operands must be matrices (${a}, ${b})`);
    const m = o.transA ? a.shape[1]! : a.shape[0]!;
    const k1 = o.transA ? a.shape[0]! : a.shape[1]!;
    const k2 = o.transB ? b.shape[1]! : b.shape[0]!;
    const n = o.transB ? b.shape[0]! : b.shape[1]!;
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
      throw new GraphError(`Gemm: inner dimensions differ (${a} vs ${b})`);
    }
    if (c) broadcastShapes([[m, n], c.shape], 'Gemm');
    const attrs: Record<string, Attr> = {};
    if (o.alpha !== undefined && o.alpha !== 1) attrs.alpha = attr.float(o.alpha);
    if (o.beta !== undefined && o.beta !== 1) attrs.beta = attr.float(o.beta);
    if (o.transA) attrs.transA = attr.int(1);
    if (o.transB) attrs.transB = attr.int(1);
    return this.emit('Gemm', c ? [a, b, c] : [a, b], attrs, [{ dtype: a.dtype, shape: [m, n] }])[0]!;
  }

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

  // ---------------------------------------------------------- normalisation

  /**
   * BatchNormalization over axis 1 with the given statistics (`training_mode`
   * 0): (x - mean) / sqrt(var + eps) * scale + bias, per channel, one pass.
   */
  batchNormalization(x: Value, scale: Value, bias: Value, mean: Value, variance: Value, epsilon: number): Value {
    return this.emit('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: attr.float(epsilon) }, [{ dtype: x.dtype, shape: x.shape }])[0]!;
  }

  /**
   * BatchNormalization in training mode: normalises with the batch's own mean
   * and (population) variance. With momentum 0 its second and third outputs
   * are exactly the batch mean and variance (input statistics times 0, plus
   * the batch's times 1).
   */
  batchNormalizationTraining(x: Value, scale: Value, bias: Value, epsilon: number): { y: Value; mean: Value; variance: Value } {
    const c = x.shape[1]!;
    if (typeof c !== 'number') throw new GraphError(`BatchNormalization: the channel axis of ${x} must be static`);
    // ONNX Runtime (1.30) may write the running statistics into the buffers of
    // the input statistics, and merges equal initializers first, so constant
    // inputs here corrupted other constants. Values computed from `scale` at
    // run time (0 and 1 whatever scale holds, NaN included) are private to this node.
    const finite = this.equal(scale, scale);
    const [zeros, ones] = [0, 1].map((v) => this.where(finite, this.scalar(v, x.dtype), this.scalar(v, x.dtype)));
    const [y, mean, variance] = this.emit('BatchNormalization', [x, scale, bias, zeros!, ones!],
      { epsilon: attr.float(epsilon), momentum: attr.float(0), training_mode: attr.int(1) },
      [{ dtype: x.dtype, shape: x.shape }, { dtype: x.dtype, shape: [c] }, { dtype: x.dtype, shape: [c] }]);
    return { y: y!, mean: mean!, variance: variance! };
  }

  // ------------------------------------------------------ convolution, pooling

  conv(x: Value, w: Value, b?: Value, o: ConvOptions = {}): Value {
    const sp = x.rank - 2;
    if (sp < 1 || w.rank !== x.rank) throw new GraphError(`Conv: input ${x} and kernel ${w} do not fit`);
    const group = o.group ?? 1;
    const a = windowAttrs(sp, o);
    const cin = x.shape[1]!;
    const wc = w.shape[1]!;
    if (typeof cin === 'number' && typeof wc === 'number' && cin !== wc * group) {
      throw new GraphError(`Conv: input has ${cin} channels, kernel ${w} expects ${Number(wc) * group}`);
    }
    const kernel = w.shape.slice(2).map(Number);
    const spatial = kernel.map((k, i) => windowOut(x.shape[2 + i]!, k, a.strides[i]!, a.pads[i]!, a.pads[i + sp]!, a.dilations[i]!, false, 'Conv'));
    const attrs: Record<string, Attr> = {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(a.strides),
      pads: attr.ints(a.pads),
      dilations: attr.ints(a.dilations),
    };
    if (group !== 1) attrs.group = attr.int(group);
    return this.emit('Conv', b ? [x, w, b] : [x, w], attrs, [{ dtype: x.dtype, shape: [x.shape[0]!, w.shape[0]!, ...spatial] }])[0]!;
  }

  convTranspose(x: Value, w: Value, b?: Value, o: ConvTransposeOptions = {}): Value {
    const sp = x.rank - 2;
    if (sp < 1 || w.rank !== x.rank) throw new GraphError(`ConvTranspose: input ${x} and kernel ${w} do not fit`);
    const group = o.group ?? 1;
    const a = windowAttrs(sp, o);
    const outPad = o.outputPadding ?? Array(sp).fill(0);
    const kernel = w.shape.slice(2).map(Number);
    const spatial = kernel.map((k, i) => {
      const len = x.shape[2 + i]!;
      if (typeof len !== 'number') throw new GraphError('ConvTranspose: spatial dimensions must be static');
      return a.strides[i]! * (len - 1) + outPad[i]! + (k - 1) * a.dilations[i]! + 1 - a.pads[i]! - a.pads[i + sp]!;
    });
    const attrs: Record<string, Attr> = {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(a.strides),
      pads: attr.ints(a.pads),
      dilations: attr.ints(a.dilations),
    };
    if (o.outputPadding) attrs.output_padding = attr.ints(outPad);
    if (group !== 1) attrs.group = attr.int(group);
    const cout = typeof w.shape[1] === 'number' ? w.shape[1] * group : w.shape[1]!;
    return this.emit('ConvTranspose', b ? [x, w, b] : [x, w], attrs, [{ dtype: x.dtype, shape: [x.shape[0]!, cout, ...spatial] }])[0]!;
  }

  private poolShape(opType: string, x: Value, o: PoolOptions): { attrs: Record<string, Attr>; shape: Dim[] } {
    const sp = x.rank - 2;
    if (o.kernelShape.length !== sp) throw new GraphError(`${opType}: kernel [${o.kernelShape}] does not fit ${x}`);
    const a = windowAttrs(sp, o);
    const spatial = o.kernelShape.map((k, i) =>
      windowOut(x.shape[2 + i]!, k, a.strides[i]!, a.pads[i]!, a.pads[i + sp]!, a.dilations[i]!, !!o.ceilMode, opType),
    );
    const attrs: Record<string, Attr> = {
      kernel_shape: attr.ints(o.kernelShape),
      strides: attr.ints(a.strides),
      pads: attr.ints(a.pads),
    };
    if (o.dilations) attrs.dilations = attr.ints(a.dilations);
    if (o.ceilMode) attrs.ceil_mode = attr.int(1);
    return { attrs, shape: [x.shape[0]!, x.shape[1]!, ...spatial] };
  }

  maxPool(x: Value, o: PoolOptions): Value {
    const { attrs, shape } = this.poolShape('MaxPool', x, o);
    return this.emit('MaxPool', [x], attrs, [{ dtype: x.dtype, shape }])[0]!;
  }

  /** MaxPool that also returns the flat index (over N, C and space) of each maximum. */
  maxPoolWithIndices(x: Value, o: PoolOptions): [Value, Value] {
    const { attrs, shape } = this.poolShape('MaxPool', x, o);
    const [y, idx] = this.emit('MaxPool', [x], attrs, [{ dtype: x.dtype, shape }, { dtype: 'int64', shape }]);
    return [y!, idx!];
  }

  /**
   * MaxUnpool: each value of `x` placed at its flat index (as MaxPool's second
   * output gives it) in a zero tensor of shape `outputShape`, the shape of the
   * pooled input. The window attributes are the pool's.
   */
  maxUnpool(x: Value, indices: Value, outputShape: Value, like: Value, o: PoolOptions): Value {
    const attrs: Record<string, Attr> = { kernel_shape: attr.ints(o.kernelShape), strides: attr.ints(o.strides ?? o.kernelShape.map(() => 1)) };
    if (o.pads) attrs.pads = attr.ints(o.pads);
    return this.emit('MaxUnpool', [x, indices, outputShape], attrs, [{ dtype: x.dtype, shape: like.shape }])[0]!;
  }

  averagePool(x: Value, o: AveragePoolOptions): Value {
    const { attrs, shape } = this.poolShape('AveragePool', x, o);
    if (o.countIncludePad) attrs.count_include_pad = attr.int(1);
    return this.emit('AveragePool', [x], attrs, [{ dtype: x.dtype, shape }])[0]!;
  }

  globalAveragePool(x: Value): Value {
    const shape = [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)];
    return this.emit('GlobalAveragePool', [x], {}, [{ dtype: x.dtype, shape }])[0]!;
  }

  // --------------------------------------------------------------- output

  /** Nodes in a stable topological order (creation order, which already is one, unless nodes were rewritten). */
  sortedNodes(): Node[] {
    const ready = new Set<Value>([...this.inputs, ...this.initializers.map((i) => i.value)]);
    const pending = [...this.nodes];
    const out: Node[] = [];
    while (pending.length) {
      const i = pending.findIndex((n) => n.inputs.every((v) => v === null || ready.has(v)));
      if (i < 0) throw new GraphError(`graph '${this.name}': a node consumes a value no node computes (${pending[0]!.name})`);
      const [n] = pending.splice(i, 1);
      out.push(n!);
      for (const v of n!.outputs) ready.add(v);
    }
    return out;
  }

  /** Removes `node`; used by rewrites that compute its outputs another way. */
  removeNode(node: Node): void {
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new GraphError(`graph '${this.name}': no node ${node.name}`);
    this.nodes.splice(i, 1);
  }

  /** Adds an Identity from `src` into the existing value `dst` (which then has a new producer). */
  assign(dst: Value, src: Value): void {
    const node: Node = { opType: 'Identity', name: this.freshName('Identity'), inputs: [src], outputs: [dst], attrs: {} };
    dst.producer = node;
    this.nodes.push(node);
  }

  toModel(opts: { docString?: string } = {}): ModelProto {
    const live = this.liveNodes();
    const usedInits = new Set<Value>(live.flatMap((n) => n.inputs.filter((v): v is Value => v !== null)));
    for (const o of this.outputs) usedInits.add(o);
    const graph = onnx.GraphProto.create({
      name: this.name,
      node: live.map(nodeProto),
      initializer: this.initializers.filter((i) => usedInits.has(i.value)).map((i) => tensorProto(i.value.name, i.value.dtype, i.value.shape as number[], i.data)),
      input: this.inputs.map(valueInfo),
      output: this.outputs.map(valueInfo),
    });
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'lossgraph',
      docString: opts.docString ?? '',
      opsetImport: [{ domain: '', version: OPSET }],
      graph,
    });
  }

  /** The serialised ModelProto. Same graph, same bytes. */
  toBytes(opts: { docString?: string } = {}): Uint8Array {
    if (this.outputs.length === 0) throw new GraphError(`graph '${this.name}' has no outputs`);
    return encodeModel(this.toModel(opts));
  }

  /** Sorted nodes that some output depends on; dead nodes are not emitted. */
  private liveNodes(): Node[] {
    const needed = new Set<Value>(this.outputs);
    const sorted = this.sortedNodes();
    const live: Node[] = [];
    for (let i = sorted.length - 1; i >= 0; i--) {
      const n = sorted[i]!;
      if (!n.outputs.some((v) => needed.has(v))) continue;
      live.push(n);
      for (const v of n.inputs) if (v) needed.add(v);
    }
    return live.reverse();
  }
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

function valueInfo(v: Value) {
  return onnx.ValueInfoProto.create({
    name: v.name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE_CODE[v.dtype],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function nodeProto(n: Node) {
  const attribute = Object.keys(n.attrs)
    .sort()
    .map((name) => {
      const a = n.attrs[name]!;
      const T = onnx.AttributeProto.AttributeType;
      switch (a.kind) {
        case 'int': return { name, type: T.INT, i: a.value };
        case 'float': return { name, type: T.FLOAT, f: a.value };
        case 'ints': return { name, type: T.INTS, ints: a.value.slice() };
        case 'floats': return { name, type: T.FLOATS, floats: a.value.slice() };
        case 'string': return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
        case 'tensor': return { name, type: T.TENSOR, t: a.value };
      }
    });
  return onnx.NodeProto.create({
    opType: n.opType,
    name: n.name,
    input: n.inputs.map((v) => (v ? v.name : '')),
    output: n.outputs.map((v) => v.name),
    attribute,
  });
}

