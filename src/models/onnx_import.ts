// Imported ONNX classifiers: `--model 'onnx:PATH;head=replace;train=head'`.
// importOnnxModel reads and checks a model once (its opset, ops, input and
// output, weights, external data); onnx_rebuild.ts then rebuilds its nodes
// with the graph builder, so every node gets lossgraph's shapes, target forms
// and gradient rules, and the loss's head replaces (or keeps) the classifier.
//
// Initializers become trainable parameters (those the `train` option selects)
// or constants baked into the graphs (frozen: never fed, never copied per
// step, bit-identical after training). Batch norm trains with batch
// statistics and carries its running statistics as state, or stays frozen on
// its running statistics (the default when only the head trains).
//
// Opsets 11-18 are read: the attribute and input forms that changed across
// them (Squeeze/Unsqueeze/Split/Reduce* axes, Clip bounds, Dropout ratio)
// are both understood, and the graphs are written at lossgraph's opset.
import type { onnx as onnxTypes } from 'onnx-proto';
import { ArgumentError } from '../errors.ts';
import { decodeModel } from '../onnx/proto.ts';
import { attr, nodeLabel } from './onnx_attrs.ts';

type NodeProto = onnxTypes.INodeProto;
type TensorProto = onnxTypes.ITensorProto;

export interface OnnxModelOptions {
  /** The model file, as written in the spec. */
  path: string;
  /** The value to use as the model's output (default: its only graph output). */
  output?: string;
  /** replace: a new classifier sized by the loss on the output's features; keep: the output as the head. */
  head: 'replace' | 'keep';
  /** Which parameters train: the new head only, all, or those whose name matches a regular expression (plus the head). */
  train: 'head' | 'all' | { pattern: string };
  /** C, H, W of the input: for models whose input dims are symbolic, or another image size for a convolutional body. */
  input?: [number, number, number];
  /** Per-channel normalisation applied in the graph before the model: (x - mean) / std. */
  mean?: number[];
  std?: number[];
  /** Batch norm: train (batch statistics, running statistics carried) or frozen (running statistics). */
  bn: 'train' | 'frozen';
}

export const ONNX_MODEL_PREFIX = 'onnx:';

/** Parses what follows `onnx:` in a model spec: PATH[;key=value...]. */
export function parseOnnxModelSpec(text: string): OnnxModelOptions {
  const [path, ...opts] = text.split(';');
  if (!path) throw new ArgumentError(`model 'onnx:${text}': give the model file, e.g. onnx:resnet18.onnx;head=replace`);
  const o: Partial<OnnxModelOptions> & { path: string } = { path };
  const numbers = (key: string, v: string) => {
    const xs = v.split(',').map(Number);
    if (xs.some((x) => !Number.isFinite(x))) throw new ArgumentError(`model 'onnx:${text}': ${key} must be a comma list of numbers, got '${v}'`);
    return xs;
  };
  for (const opt of opts.filter(Boolean)) {
    const eq = opt.indexOf('=');
    const [key, value] = eq < 0 ? [opt, ''] : [opt.slice(0, eq), opt.slice(eq + 1)];
    if (key === 'output' && value) o.output = value;
    else if (key === 'head' && (value === 'replace' || value === 'keep')) o.head = value;
    else if (key === 'train' && (value === 'head' || value === 'all')) o.train = value;
    else if (key === 'train' && value) {
      try {
        new RegExp(value);
      } catch {
        throw new ArgumentError(`model 'onnx:${text}': train=${value} is not a regular expression`);
      }
      o.train = { pattern: value };
    } else if (key === 'input' && /^\d+x\d+x\d+$/.test(value)) o.input = value.split('x').map(Number) as [number, number, number];
    else if (key === 'mean') o.mean = numbers(key, value);
    else if (key === 'std') {
      o.std = numbers(key, value);
      if (o.std.some((s) => s <= 0)) throw new ArgumentError(`model 'onnx:${text}': std must be > 0`);
    } else if (key === 'bn' && (value === 'train' || value === 'frozen')) o.bn = value;
    else throw new ArgumentError(`model 'onnx:${text}': option '${opt}' is not known (output=NAME, head=replace|keep, train=head|all|REGEX, input=CxHxW, mean=…, std=…, bn=train|frozen)`);
  }
  const train = o.train ?? 'head';
  return { ...o, head: o.head ?? 'replace', train, bn: o.bn ?? (train === 'head' ? 'frozen' : 'train') } as OnnxModelOptions;
}

/** A tensor of the imported model, decoded. */
export interface ImportedTensor {
  dtype: 'float32' | 'int64';
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface ImportedModel {
  options: OnnxModelOptions;
  inputName: string;
  /** C, H, W the model takes. */
  inputShape: [number, number, number];
  outputName: string;
  nodes: NodeProto[];
  /** Initializers and Constant nodes' values, by name (Identity aliases of an initializer included, as copies). */
  tensors: Map<string, ImportedTensor>;
  opset: number;
}

/** Ops the importer rebuilds, each with a gradient rule or none needed (shape arithmetic). */
export const IMPORTABLE_OPS = [
  'Add', 'AveragePool', 'BatchNormalization', 'Cast', 'Clip', 'Concat', 'Constant', 'Conv', 'Div', 'Dropout', 'Flatten',
  'Gather', 'Gemm', 'GlobalAveragePool', 'HardSigmoid', 'HardSwish', 'Identity', 'MatMul', 'MaxPool', 'Mul', 'ReduceMean',
  'Relu', 'Reshape', 'Shape', 'Sigmoid', 'Slice', 'Softmax', 'Split', 'Squeeze', 'Sub', 'Transpose', 'Unsqueeze',
] as const;
const IMPORTABLE = new Set<string>(IMPORTABLE_OPS);

const FLOAT = 1;
const INT64 = 7;

/** A TensorProto's values: raw bytes, typed fields or external data. */
function decodeTensor(t: TensorProto, where: string, readExternal?: (location: string) => Uint8Array): ImportedTensor {
  const dims = (t.dims ?? []).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? 0;
  if (type !== FLOAT && type !== INT64) throw new ArgumentError(`${where}: element type ${type} is not supported (float32 and int64 are)`);
  let raw: Uint8Array | undefined = t.rawData && t.rawData.length ? t.rawData : undefined;
  if (t.dataLocation === 1) {
    const entry = (key: string) => t.externalData?.find((e) => e.key === key)?.value ?? undefined;
    const location = entry('location');
    if (!location) throw new ArgumentError(`${where}: external data without a location`);
    if (!readExternal) throw new ArgumentError(`${where}: its data is in the external file '${location}', which cannot be read here`);
    const file = readExternal(location);
    const offset = Number(entry('offset') ?? 0);
    const length = entry('length') !== undefined ? Number(entry('length')) : count * (type === FLOAT ? 4 : 8);
    if (offset + length > file.length) throw new ArgumentError(`${where}: external file '${location}' holds ${file.length} bytes, the tensor needs ${offset + length}`);
    raw = file.subarray(offset, offset + length);
  }
  if (type === FLOAT) {
    let data: Float32Array;
    if (raw) {
      if (raw.length !== count * 4) throw new ArgumentError(`${where}: ${raw.length} bytes for ${count} float32 values`);
      data = new Float32Array(count);
      new Uint8Array(data.buffer).set(raw);
    } else data = Float32Array.from(t.floatData ?? []);
    if (data.length !== count) throw new ArgumentError(`${where}: ${data.length} values for shape [${dims.join(', ')}]`);
    return { dtype: 'float32', dims, data };
  }
  let data: BigInt64Array;
  if (raw) {
    if (raw.length !== count * 8) throw new ArgumentError(`${where}: ${raw.length} bytes for ${count} int64 values`);
    data = new BigInt64Array(count);
    new Uint8Array(data.buffer).set(raw);
  } else data = BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(String(v))));
  if (data.length !== count) throw new ArgumentError(`${where}: ${data.length} values for shape [${dims.join(', ')}]`);
  return { dtype: 'int64', dims, data };
}

/**
 * Reads an ONNX classifier: `bytes` of the model file, `readExternal` for
 * tensors stored in external-data files (their location is relative to the
 * model). Everything lossgraph cannot import is one line naming the node.
 */
export function importOnnxModel(bytes: Uint8Array, options: OnnxModelOptions, readExternal?: (location: string) => Uint8Array): ImportedModel {
  const where = options.path;
  let model: ReturnType<typeof decodeModel>;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new ArgumentError(`${where}: not a readable ONNX model (${String((e as Error).message).split('\n')[0]})`);
  }
  const graph = model.graph;
  if (!graph || !graph.node?.length) throw new ArgumentError(`${where}: not an ONNX model with a graph (truncated, or another file)`);
  const opset = Number(model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
  if (opset < 11 || opset > 18) throw new ArgumentError(`${where}: opset ${opset || 'unknown'}; lossgraph imports opsets 11 to 18 (re-export with opset_version between them)`);

  const tensors = new Map<string, ImportedTensor>();
  for (const t of graph.initializer ?? []) tensors.set(t.name!, decodeTensor(t, `${where}: initializer '${t.name}'`, readExternal));
  for (const n of graph.node) {
    if (n.domain && n.domain !== 'ai.onnx') throw new ArgumentError(`${where}: ${nodeLabel(n)} is in domain '${n.domain}', which lossgraph cannot import`);
    if (!IMPORTABLE.has(n.opType ?? '')) {
      throw new ArgumentError(`${where}: ${nodeLabel(n)}: lossgraph cannot import or differentiate op ${n.opType} (importable: ${IMPORTABLE_OPS.join(', ')})`);
    }
    if (n.opType === 'Constant') {
      const value = attr(n, 'value')?.t;
      if (!value) throw new ArgumentError(`${where}: ${nodeLabel(n)}: only the 'value' form of Constant is supported`);
      tensors.set(n.output![0]!, decodeTensor(value, `${where}: ${nodeLabel(n)}`));
    }
    // An Identity of an initializer names a copy of it (exporters share equal initializers this way).
    if (n.opType === 'Identity' && tensors.has(n.input![0]!)) {
      const src = tensors.get(n.input![0]!)!;
      tensors.set(n.output![0]!, { ...src, data: src.data.slice() as Float32Array | BigInt64Array });
    }
  }

  const inputs = (graph.input ?? []).filter((i) => !tensors.has(i.name!));
  if (inputs.length !== 1) throw new ArgumentError(`${where}: the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); lossgraph imports models with one image input`);
  const input = inputs[0]!;
  const tt = input.type?.tensorType;
  if (tt?.elemType !== FLOAT) throw new ArgumentError(`${where}: input '${input.name}' is not float32`);
  const dims = (tt.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : undefined));
  if (dims.length !== 4) throw new ArgumentError(`${where}: input '${input.name}' has rank ${dims.length}; lossgraph imports image models with an [N, C, H, W] input`);
  const given = options.input;
  const chw = dims.slice(1).map((d, i) => given?.[i] ?? d);
  if (chw.some((d) => d === undefined)) {
    throw new ArgumentError(`${where}: input '${input.name}' has symbolic dims [${(tt.shape?.dim ?? []).map((d) => d.dimParam || d.dimValue).join(', ')}]; say the size with ;input=CxHxW, e.g. onnx:${options.path};input=3x224x224`);
  }
  // ;input= may change the image size (convolutional bodies with global pooling take any), not the channels.
  if (given && dims[1] !== undefined && dims[1] !== given[0]) {
    throw new ArgumentError(`${where}: input '${input.name}' has ${dims[1]} channels, but ;input= says ${given[0]}`);
  }
  const c = chw[0]!;
  for (const [key, v] of [['mean', options.mean], ['std', options.std]] as const) {
    if (v && v.length !== 1 && v.length !== c) throw new ArgumentError(`${where}: ${key} has ${v.length} values for ${c} input channels`);
  }

  const produced = new Set(graph.node.flatMap((n) => n.output ?? []));
  const outputName = options.output ?? (graph.output?.length === 1 ? graph.output[0]!.name! : undefined);
  if (!outputName) throw new ArgumentError(`${where}: the model has ${graph.output?.length ?? 0} outputs (${(graph.output ?? []).map((o) => o.name).join(', ')}); choose one with ;output=NAME`);
  if (!produced.has(outputName)) throw new ArgumentError(`${where}: no node computes '${outputName}' (;output= names a value of the model)`);
  const declared = graph.output?.find((o) => o.name === outputName)?.type?.tensorType?.elemType;
  if (declared !== undefined && declared !== FLOAT) throw new ArgumentError(`${where}: output '${outputName}' is not a floating-point tensor; choose one with ;output=NAME`);

  return { options, inputName: input.name!, inputShape: chw as [number, number, number], outputName, nodes: graph.node, tensors, opset };
}
