// Rebuilding an imported model (read by onnx_import.ts) with lossgraph's graph
// builder: each node becomes the builder's op, so it gets lossgraph's shapes,
// target forms and gradient rules. Trainable initializers become parameters,
// the rest constants; batch norm trains on batch statistics or stays frozen;
// shape arithmetic is folded while building; the old classifier is cut off
// where the loss's head takes over.
import type { onnx as onnxTypes } from 'onnx-proto';
import { ArgumentError } from '../errors.ts';
import type { Dim } from '../graph/shape.ts';
import type { Value } from '../graph/graph.ts';
import type { ModelBuilder } from './builder.ts';
import { attrFloat, attrInt, attrInts, attrString, nodeLabel } from './onnx_attrs.ts';
import type { ImportedModel } from './onnx_import.ts';

type NodeProto = onnxTypes.INodeProto;

const FLOAT = 1;

/** The nodes `target` depends on, in model order. */
function nodesFor(nodes: readonly NodeProto[], target: string): NodeProto[] {
  const byOutput = new Map<string, NodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) byOutput.set(o, n);
  const need = new Set<NodeProto>();
  const stack = [target];
  while (stack.length) {
    const n = byOutput.get(stack.pop()!);
    if (!n || need.has(n)) continue;
    need.add(n);
    for (const i of n.input ?? []) if (i) stack.push(i);
  }
  return nodes.filter((n) => need.has(n));
}

/** Where the imported body ends and the loss's head begins. */
interface Cut {
  /** The value the head reads (features), or the output itself when the head is kept. */
  value: string;
  /** Nodes of the old classifier that are not rebuilt (replaced by the new head). */
  dropped: Set<NodeProto>;
  /** Parameters of the kept classifier (head=keep), which train=head trains. */
  headParams: Set<string>;
}

function findCut(imp: ImportedModel): Cut {
  const { nodes, outputName, options } = imp;
  const producer = nodes.find((n) => n.output?.includes(outputName));
  const linear = producer?.opType === 'Gemm' || producer?.opType === 'MatMul' ? producer : undefined;
  // MatMul then Add of a bias is a classifier too.
  const addOfMatMul = producer?.opType === 'Add' ? nodes.find((n) => n.opType === 'MatMul' && producer.input?.includes(n.output![0]!)) : undefined;
  const classifier = linear ?? addOfMatMul;
  const params = new Set<string>([...(classifier?.input ?? []), ...(addOfMatMul ? producer!.input ?? [] : [])].filter((i) => imp.tensors.has(i)));
  if (options.head === 'keep') return { value: outputName, dropped: new Set(), headParams: params };
  if (!classifier) return { value: outputName, dropped: new Set(), headParams: new Set() };
  if (classifier.opType === 'Gemm' && attrInt(classifier, 'transA', 0) !== 0) throw new ArgumentError(`${options.path}: ${nodeLabel(classifier)}: a classifier with transA=1 cannot be replaced; choose the features with ;output=NAME`);
  return { value: classifier.input![0]!, dropped: new Set([classifier, ...(addOfMatMul ? [producer!] : [])]), headParams: new Set() };
}

/** Names of the float initializers the model uses as weights: Conv, Gemm and MatMul operands, batch norm's scale and bias. */
function weightNames(imp: ImportedModel): Set<string> {
  const weights = new Set<string>();
  const add = (name: string | undefined) => {
    if (name && imp.tensors.get(name)?.dtype === 'float32') weights.add(name);
  };
  for (const n of imp.nodes) {
    const ins = n.input ?? [];
    if (n.opType === 'Conv' || n.opType === 'Gemm') [1, 2].forEach((i) => add(ins[i]));
    if (n.opType === 'MatMul') [0, 1].forEach((i) => add(ins[i]));
    if (n.opType === 'BatchNormalization') [1, 2].forEach((i) => add(ins[i]));
  }
  return weights;
}

/** Ops folded while building when all their inputs are known (shape arithmetic). */
const SHAPE_ARITHMETIC = new Set(['Gather', 'Cast', 'Unsqueeze', 'Squeeze', 'Concat', 'Div', 'Mul', 'Add', 'Sub', 'Slice']);

/** Values known while building (shape arithmetic): small int64 tensors, entries possibly symbolic. */
type Known = Map<string, Dim[]>;

/**
 * Rebuilds the imported model on `x` ([batch, C, H, W], already the model's
 * input size) in `m`'s graph and returns the value the head reads: the
 * features before the old classifier (head=replace), or the output itself (head=keep).
 */
export function emitImportedBody(m: ModelBuilder, imp: ImportedModel, x: Value): Value {
  const g = m.g;
  const { options } = imp;
  const where = options.path;
  const cut = findCut(imp);
  const nodes = nodesFor(imp.nodes, cut.value).filter((n) => !cut.dropped.has(n));
  const weights = weightNames(imp);
  const pattern = typeof options.train === 'object' ? new RegExp(options.train.pattern) : undefined;
  const trainable = (name: string) => weights.has(name) && (options.train === 'all' || (pattern?.test(name) ?? false) || (options.train === 'head' && cut.headParams.has(name)));
  const trainBn = options.bn === 'train' && m.kind === 'training';

  const env = new Map<string, Value>();
  const known: Known = new Map();
  // Normalisation the model expects, in the graph, so every runtime and the page apply the same.
  let input = x;
  if (options.mean || options.std) {
    const c = imp.inputShape[0];
    const perChannel = (v: number[]) => g.constant(m.dtype, [1, v.length === 1 ? 1 : c, 1, 1], v);
    if (options.mean) input = g.sub(input, perChannel(options.mean));
    if (options.std) input = g.div(input, perChannel(options.std));
  }
  env.set(imp.inputName, input);

  const tensorValue = (name: string): Value => {
    const hit = env.get(name);
    if (hit) return hit;
    const t = imp.tensors.get(name);
    if (!t && known.has(name)) throw new ArgumentError(`${where}: '${name}' is shape arithmetic on the symbolic batch [${known.get(name)!.join(', ')}], which only a Reshape target can use`);
    if (!t) throw new ArgumentError(`${where}: no value named '${name}'`);
    let v: Value;
    if (t.dtype === 'float32' && trainable(name)) v = m.givenParam(name, t.dims, t.data as Float32Array);
    else if (t.dtype === 'float32') v = g.initializer(name, m.dtype, t.dims, t.data as Float32Array);
    else {
      v = g.constant('int64', t.dims, t.data);
      known.set(name, Array.from(t.data as BigInt64Array, Number));
    }
    env.set(name, v);
    return v;
  };
  const value = (name: string | undefined | null): Value | undefined => (name ? tensorValue(name) : undefined);
  const ints = (n: NodeProto, name: string | undefined, what: string): number[] => {
    if (!name) throw new ArgumentError(`${where}: ${nodeLabel(n)}: no ${what}`);
    if (!known.has(name)) tensorValue(name);
    const k = known.get(name);
    if (!k || k.some((d) => typeof d !== 'number')) throw new ArgumentError(`${where}: ${nodeLabel(n)}: its ${what} must be known when the graph is built (a constant or shape arithmetic of static dims)`);
    return k as number[];
  };
  // Axes: an attribute before opset 13 (18 for Reduce*), an input after.
  const axesOf = (n: NodeProto, inputIndex: number) => attrInts(n, 'axes') ?? (n.input?.[inputIndex] ? ints(n, n.input[inputIndex], 'axes') : undefined);

  for (const n of nodes) {
    const ins = n.input ?? [];
    const label = nodeLabel(n);
    const X = () => value(ins[0])!;
    const set = (v: Value, i = 0) => env.set(n.output![i]!, v);
    const op = n.opType!;
    // Shape arithmetic stays known while building: Reshape needs its target, and nothing differentiates through it.
    for (const i of ins) if (i && imp.tensors.get(i)?.dtype === 'int64') tensorValue(i);
    const k = ins.map((i) => (i ? known.get(i) : undefined));
    if (op === 'Constant') {
      tensorValue(n.output![0]!);
      continue;
    }
    if (op === 'Identity' && imp.tensors.has(n.output![0]!)) continue;
    if (op === 'Shape') {
      const v = X();
      known.set(n.output![0]!, [...v.shape]);
      set(g.shape(v));
      continue;
    }
    if (SHAPE_ARITHMETIC.has(op) && ins.every((i, j) => !i || k[j])) {
      const folded = foldKnown(n, k, (i) => ints(n, ins[i], `input ${i}`));
      if (folded) {
        known.set(n.output![0]!, folded);
        // A value with a symbolic dim has no constant form: only Reshape reads it, from `known`.
        if (folded.every((d) => typeof d === 'number')) env.set(n.output![0]!, g.constant('int64', [folded.length], folded as number[]));
        continue;
      }
    }
    switch (op) {
      case 'Identity':
      case 'Dropout':
        set(X());
        break;
      case 'Cast':
        if (attrInt(n, 'to', FLOAT) !== FLOAT) throw new ArgumentError(`${where}: ${label}: a cast to type ${attrInt(n, 'to', 0)} outside shape arithmetic`);
        set(X());
        break;
      case 'Relu':
        set(g.relu(X()));
        break;
      case 'Sigmoid':
        set(g.sigmoid(X()));
        break;
      case 'Softmax':
        set(g.softmax(X(), attrInt(n, 'axis', -1)));
        break;
      case 'Clip': {
        // Bounds are inputs from opset 11 (attributes before it).
        const bound = (i: number, name: string, d: number) => {
          const t = ins[i] ? imp.tensors.get(ins[i]!) : undefined;
          return t ? Number((t.data as Float32Array)[0]) : attrFloat(n, name, d);
        };
        const [lo, hi] = [bound(1, 'min', -Infinity), bound(2, 'max', Infinity)];
        // ReLU6 (Clip 0..6) as Relu then the upper bound: its gradient is then 0 where the input is exactly 0,
        // as PyTorch's (hardtanh and ReLU pass no gradient at the boundary; whole channels sit at 0 after a ReLU).
        if (lo === 0) set(g.clip(g.relu(X()), undefined, hi === Infinity ? undefined : hi));
        else set(g.clip(X(), lo === -Infinity ? undefined : lo, hi === Infinity ? undefined : hi));
        break;
      }
      case 'HardSigmoid': {
        const [alpha, beta] = [attrFloat(n, 'alpha', 0.2), attrFloat(n, 'beta', 0.5)];
        set(g.clip(g.add(g.mul(X(), alpha), beta), 0, 1));
        break;
      }
      case 'HardSwish':
        set(g.mul(X(), g.clip(g.add(g.mul(X(), 1 / 6), 0.5), 0, 1)));
        break;
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div': {
        const [a, b] = [value(ins[0])!, value(ins[1])!];
        if (a.dtype !== b.dtype) throw new ArgumentError(`${where}: ${label}: operands of types ${a.dtype} and ${b.dtype}`);
        set(op === 'Add' ? g.add(a, b) : op === 'Sub' ? g.sub(a, b) : op === 'Mul' ? g.mul(a, b) : g.div(a, b));
        break;
      }
      case 'Conv': {
        if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') throw new ArgumentError(`${where}: ${label}: auto_pad is not supported; re-export with explicit pads`);
        set(g.conv(X(), value(ins[1])!, value(ins[2]), { strides: attrInts(n, 'strides'), pads: attrInts(n, 'pads'), dilations: attrInts(n, 'dilations'), group: attrInt(n, 'group', 1) }));
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') throw new ArgumentError(`${where}: ${label}: auto_pad is not supported; re-export with explicit pads`);
        if ((n.output?.length ?? 1) > 1 && n.output![1]) throw new ArgumentError(`${where}: ${label}: the Indices output is not supported`);
        const o = { kernelShape: attrInts(n, 'kernel_shape')!, strides: attrInts(n, 'strides'), pads: attrInts(n, 'pads'), dilations: attrInts(n, 'dilations'), ceilMode: attrInt(n, 'ceil_mode', 0) === 1 };
        if (op === 'AveragePool' && o.ceilMode) throw new ArgumentError(`${where}: ${label}: ceil_mode=1 average pooling has no gradient rule yet`);
        set(op === 'MaxPool' ? g.maxPool(X(), o) : g.averagePool(X(), { ...o, countIncludePad: attrInt(n, 'count_include_pad', 0) === 1 }));
        break;
      }
      case 'GlobalAveragePool':
        set(g.globalAveragePool(X()));
        break;
      case 'ReduceMean': {
        const axes = axesOf(n, 1);
        set(g.reduceMean(X(), axes, attrInt(n, 'keepdims', 1) === 1));
        break;
      }
      case 'Flatten':
        set(g.flatten(X(), attrInt(n, 'axis', 1)));
        break;
      case 'Reshape': {
        const v = X();
        const target = k[1] ?? ints(n, ins[1], 'shape');
        set(g.reshape(v, reshapeTarget(v, target, `${where}: ${label}`)));
        break;
      }
      case 'Transpose':
        set(g.transpose(X(), attrInts(n, 'perm')));
        break;
      case 'Squeeze':
        set(g.squeeze(X(), axesOf(n, 1) ?? X().shape.flatMap((d, i) => (d === 1 ? [i] : []))));
        break;
      case 'Unsqueeze':
        set(g.unsqueeze(X(), axesOf(n, 1)!));
        break;
      case 'Concat':
        set(g.concat(ins.map((i) => value(i)!), attrInt(n, 'axis', 0)));
        break;
      case 'Slice': {
        const starts = attrInts(n, 'starts') ?? ints(n, ins[1], 'starts');
        const ends = attrInts(n, 'ends') ?? ints(n, ins[2], 'ends');
        const axes = attrInts(n, 'axes') ?? (ins[3] ? ints(n, ins[3], 'axes') : undefined);
        const steps = ins[4] ? ints(n, ins[4], 'steps') : undefined;
        set(g.slice(X(), starts, ends, axes, steps));
        break;
      }
      case 'Split': {
        const v = X();
        const axis = attrInt(n, 'axis', 0);
        const a = axis < 0 ? axis + v.rank : axis;
        const len = v.shape[a];
        if (typeof len !== 'number') throw new ArgumentError(`${where}: ${label}: splits a symbolic axis`);
        const outs = n.output!.length;
        const sizes = attrInts(n, 'split') ?? (ins[1] ? ints(n, ins[1], 'split') : Array.from({ length: outs }, (_, i) => Math.ceil(len / outs) - (i === outs - 1 ? Math.ceil(len / outs) * outs - len : 0)));
        let start = 0;
        sizes.forEach((s, i) => {
          set(g.slice(v, [start], [start + s], [a]), i);
          start += s;
        });
        break;
      }
      case 'Gather': {
        const idx = imp.tensors.get(ins[1]!);
        if (!idx) throw new ArgumentError(`${where}: ${label}: gathers with computed indices outside shape arithmetic`);
        set(g.gather(X(), value(ins[1])!, attrInt(n, 'axis', 0)));
        break;
      }
      case 'Gemm':
        set(g.gemm(X(), value(ins[1])!, value(ins[2]), { alpha: attrFloat(n, 'alpha', 1), beta: attrFloat(n, 'beta', 1), transA: attrInt(n, 'transA', 0) === 1, transB: attrInt(n, 'transB', 0) === 1 }));
        break;
      case 'MatMul':
        set(g.matMul(value(ins[0])!, value(ins[1])!));
        break;
      case 'BatchNormalization': {
        const v = X();
        const eps = attrFloat(n, 'epsilon', 1e-5);
        const [scale, bias] = [value(ins[1])!, value(ins[2])!];
        const [meanT, varT] = [imp.tensors.get(ins[3]!), imp.tensors.get(ins[4]!)];
        if (!meanT || !varT) throw new ArgumentError(`${where}: ${label}: running statistics that are not initializers`);
        if (options.bn === 'train') {
          const runMean = m.givenState(ins[3]!, meanT.dims, meanT.data as Float32Array);
          const runVar = m.givenState(ins[4]!, varT.dims, varT.data as Float32Array);
          if (trainBn) {
            // ONNX's momentum weighs the old running value (PyTorch exports 1 - its momentum).
            const keep = attrFloat(n, 'momentum', 0.9);
            set(m.trainingBatchNorm(v, scale, bias, runMean, runVar, eps, keep));
          } else set(g.batchNormalization(v, scale, bias, runMean, runVar, eps));
        } else {
          set(g.batchNormalization(v, scale, bias, tensorValue(ins[3]!), tensorValue(ins[4]!), eps));
        }
        break;
      }
      default:
        throw new ArgumentError(`${where}: ${label}: lossgraph cannot import op ${op}`);
    }
  }
  const features = env.get(cut.value);
  if (!features) throw new ArgumentError(`${where}: '${cut.value}' was not computed`);
  if (features.dtype !== m.dtype) throw new ArgumentError(`${where}: '${cut.value}' is ${features.dtype}, not a floating-point tensor`);
  return features;
}

/** A Reshape target for lossgraph's graph: a symbolic dim of the input's batch becomes 0 (copy) where it stands. */
function reshapeTarget(v: Value, target: readonly Dim[], where: string): number[] {
  return target.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i === 0 && v.shape[0] === d) return 0;
    if (target.filter((e) => typeof e !== 'number').length === 1 && !target.includes(-1)) return -1;
    throw new ArgumentError(`${where}: a target shape with symbolic dims [${target.join(', ')}]`);
  });
}

/** Shape arithmetic on known values, or undefined when a value is not known. */
function foldKnown(n: NodeProto, k: (Dim[] | undefined)[], ints: (i: number) => number[]): Dim[] | undefined {
  const a = k[0]!;
  const num = (d: Dim) => (typeof d === 'number' ? d : undefined);
  const elementwise = (f: (x: number, y: number) => number) => {
    const b = k[1];
    if (!b) return undefined;
    const len = Math.max(a.length, b.length);
    const out: Dim[] = [];
    for (let i = 0; i < len; i++) {
      const [x, y] = [a[a.length === 1 ? 0 : i]!, b[b.length === 1 ? 0 : i]!];
      const [p, q] = [num(x), num(y)];
      if (p === undefined || q === undefined) {
        // A symbolic dim times or divided by 1 stays itself; anything else is not known.
        if (q === 1 && (n.opType === 'Mul' || n.opType === 'Div')) out.push(x);
        else if (p === 1 && n.opType === 'Mul') out.push(y);
        else return undefined;
      } else out.push(f(p, q));
    }
    return out;
  };
  switch (n.opType) {
    case 'Gather': {
      const idx = ints(1);
      return idx.map((i) => a[i < 0 ? i + a.length : i]!);
    }
    case 'Cast':
      return a;
    case 'Unsqueeze':
    case 'Squeeze':
      return a; // a scalar and its one-element vector hold the same dims
    case 'Concat':
      return k.every(Boolean) ? k.flatMap((e) => e!) : undefined;
    case 'Div':
      return elementwise((x, y) => Math.trunc(x / y));
    case 'Mul':
      return elementwise((x, y) => x * y);
    case 'Add':
      return elementwise((x, y) => x + y);
    case 'Sub':
      return elementwise((x, y) => x - y);
    case 'Slice': {
      const [starts, ends] = [ints(1), ints(2)];
      const s = Math.max(0, starts[0]! < 0 ? starts[0]! + a.length : starts[0]!);
      const e = Math.min(a.length, ends[0]! < 0 ? ends[0]! + a.length : ends[0]!);
      return a.slice(s, e);
    }
    default:
      return undefined;
  }
}
