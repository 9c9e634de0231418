// The graph builder's core: a graph hands out typed Values, and every ONNX op
// records one node through emit() after inferring its outputs' dtype and
// shape. The op families are layered on top (ops/*.ts) and make up Graph
// (graph.ts). Names are deterministic (a per-prefix counter inside the
// current scope), so building the same graph twice serialises to identical bytes.
import { GraphError } from '../errors.ts';
import { typedArray, type AnyTypedArray, type DType } from '../onnx/dtype.ts';
import { encodeModel, type ModelProto } from '../onnx/proto.ts';
import type { Attr, Target } from './ir.ts';
import { modelProto } from './serialize.ts';
import { broadcastShapes, shapeToString, type Dim, type Shape } from './shape.ts';

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
    readonly graph: GraphCore,
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

/** A shape given as numbers, or as a 1-D int64 Value computed in the graph. */
export type IntsLike = Value | readonly number[];

export class GraphCore {
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly nodes: Node[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly constCache = new Map<string, Value>();
  /** Shape(x) nodes by x (ShapeOps asks once per value). */
  protected readonly shapeCache = new Map<Value, Value>();
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
  protected freshName(base: string, exact = false): string {
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

  protected intsValue(xs: IntsLike): Value {
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

  protected unary(opType: string, x: Value, attrs: Record<string, Attr> = {}): Value {
    return this.emit(opType, [x], attrs, [{ dtype: x.dtype, shape: x.shape }])[0]!;
  }

  protected binary(opType: string, a: Value, b: Value, outDtype?: DType): Value {
    if (a.dtype !== b.dtype) throw new GraphError(`${opType}: dtypes differ (${a} vs ${b})`);
    const shape = broadcastShapes([a.shape, b.shape], opType);
    return this.emit(opType, [a, b], {}, [{ dtype: outDtype ?? a.dtype, shape }])[0]!;
  }

  /** `b` as a Value: numbers become scalar constants of `like`'s dtype. */
  protected lift(b: Value | number, like: Value): Value {
    return typeof b === 'number' ? this.scalar(b, like.dtype) : b;
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
    return modelProto({ name: this.name, inputs: this.inputs, outputs: this.outputs, initializers: this.initializers }, this.liveNodes(), opts);
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
