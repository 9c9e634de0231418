// Which nodes ONNX Runtime's CUDA provider can run, and a check of a whole
// model against that table. A node the provider has no kernel for silently
// falls back to the CPU (with copies each way, every step); a node it has a
// kernel for but refuses fails the session at creation (training-mode
// BatchNormalization at opset >= 14). The check runs without a GPU, so a
// gradient rule or layer that would break CUDA fails a test here first.
//
// Source: ONNX Runtime's generated kernel table, docs/OperatorKernels.md,
// section "Operators implemented by CUDAExecutionProvider" (microsoft/onnxruntime
// at commit 001d12d2623fd411ce0f83d05abb5e82304a3389, read 2026-12-04), the rows
// covering opset 18, the opset lossgraph emits; and, for the refusal, the CUDA
// BatchNormalization kernel (onnxruntime/core/providers/cuda/nn/batch_norm.h:
// "Training mode does not support BN opset 14 (or higher) yet", upstream issue
// onnxruntime#16867). Only the element types lossgraph can emit are listed.
import type { onnx as onnxTypes } from 'onnx-proto';

type GraphProto = onnxTypes.IGraphProto;
type ModelProto = onnxTypes.IModelProto;

/** ONNX TensorProto.DataType codes of the element types below. */
const CODE = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 } as const;
type ElemName = keyof typeof CODE;
const NAME_OF = new Map<number, ElemName>(Object.entries(CODE).map(([k, v]) => [v, k as ElemName]));

const FLOAT: readonly ElemName[] = ['float32', 'float64'];
const FLOAT_INT: readonly ElemName[] = ['float32', 'float64', 'int32', 'int64'];
const ANY: readonly ElemName[] = ['float32', 'float64', 'int32', 'int64', 'bool'];

/**
 * For each op: the input whose element type the kernel is registered by (the
 * type constraint T), and the types registered at opset 18. An op missing
 * here has no CUDA kernel (MaxUnpool, for one).
 */
export const CUDA_KERNELS: Readonly<Record<string, { input: number; types: readonly ElemName[] }>> = {
  Abs: { input: 0, types: FLOAT_INT },
  Add: { input: 0, types: FLOAT_INT },
  And: { input: 0, types: ['bool'] },
  ArgMax: { input: 0, types: FLOAT },
  AveragePool: { input: 0, types: FLOAT },
  BatchNormalization: { input: 0, types: FLOAT },
  Cast: { input: 0, types: ANY },
  Ceil: { input: 0, types: FLOAT },
  Clip: { input: 0, types: ['float32', 'float64', 'int64'] },
  Concat: { input: 0, types: ANY },
  ConstantOfShape: { input: 0, types: ['int64'] },
  Conv: { input: 0, types: FLOAT },
  ConvTranspose: { input: 0, types: FLOAT },
  Cos: { input: 0, types: FLOAT },
  CumSum: { input: 0, types: FLOAT_INT },
  Div: { input: 0, types: FLOAT_INT },
  Dropout: { input: 0, types: FLOAT },
  Equal: { input: 0, types: ANY },
  Erf: { input: 0, types: FLOAT },
  Exp: { input: 0, types: FLOAT },
  Expand: { input: 0, types: ANY },
  Flatten: { input: 0, types: ANY },
  Floor: { input: 0, types: FLOAT },
  Gather: { input: 0, types: ANY },
  GatherElements: { input: 0, types: ANY },
  Gemm: { input: 0, types: FLOAT },
  GlobalAveragePool: { input: 0, types: FLOAT },
  GlobalMaxPool: { input: 0, types: FLOAT },
  Greater: { input: 0, types: FLOAT_INT },
  GreaterOrEqual: { input: 0, types: FLOAT_INT },
  HardSigmoid: { input: 0, types: FLOAT },
  HardSwish: { input: 0, types: FLOAT },
  Identity: { input: 0, types: ANY },
  LeakyRelu: { input: 0, types: FLOAT },
  Less: { input: 0, types: FLOAT_INT },
  LessOrEqual: { input: 0, types: FLOAT_INT },
  Log: { input: 0, types: FLOAT },
  LogSoftmax: { input: 0, types: FLOAT },
  Loop: { input: 0, types: ['int64'] },
  MatMul: { input: 0, types: FLOAT },
  Max: { input: 0, types: FLOAT_INT },
  MaxPool: { input: 0, types: FLOAT },
  Min: { input: 0, types: FLOAT_INT },
  Mod: { input: 0, types: FLOAT_INT },
  Mul: { input: 0, types: FLOAT_INT },
  Neg: { input: 0, types: FLOAT_INT },
  Not: { input: 0, types: ['bool'] },
  Or: { input: 0, types: ['bool'] },
  Pad: { input: 0, types: ['bool', 'float32', 'float64'] },
  Pow: { input: 0, types: FLOAT_INT },
  Range: { input: 0, types: FLOAT_INT },
  Reciprocal: { input: 0, types: FLOAT },
  ReduceLogSumExp: { input: 0, types: FLOAT },
  ReduceMax: { input: 0, types: FLOAT_INT },
  ReduceMean: { input: 0, types: ['float32', 'float64', 'int32'] },
  ReduceMin: { input: 0, types: FLOAT_INT },
  ReduceProd: { input: 0, types: ['float32', 'float64', 'int32'] },
  ReduceSum: { input: 0, types: FLOAT_INT },
  ReduceSumSquare: { input: 0, types: FLOAT },
  Relu: { input: 0, types: FLOAT },
  Reshape: { input: 0, types: ANY },
  Resize: { input: 0, types: ['float32', 'float64', 'int32'] },
  ScatterElements: { input: 0, types: ANY },
  Shape: { input: 0, types: ANY },
  Sigmoid: { input: 0, types: FLOAT },
  Sign: { input: 0, types: FLOAT_INT },
  Sin: { input: 0, types: FLOAT },
  Size: { input: 0, types: ANY },
  Slice: { input: 0, types: ANY },
  Softmax: { input: 0, types: FLOAT },
  Softplus: { input: 0, types: FLOAT },
  Split: { input: 0, types: ANY },
  Sqrt: { input: 0, types: FLOAT },
  Squeeze: { input: 0, types: ANY },
  Sub: { input: 0, types: FLOAT_INT },
  Sum: { input: 0, types: FLOAT },
  Tanh: { input: 0, types: FLOAT },
  Tile: { input: 0, types: FLOAT_INT },
  Transpose: { input: 0, types: ANY },
  Unsqueeze: { input: 0, types: ANY },
  Where: { input: 1, types: FLOAT_INT },
};

/** Ops whose output types do not follow their first input. */
function outputTypes(node: onnxTypes.INodeProto, inputType: (i: number) => number | undefined, body: (g: GraphProto) => number[]): (number | undefined)[] {
  const attr = (name: string) => node.attribute?.find((a) => a.name === name);
  const n = node.output?.length ?? 0;
  const all = (t: number | undefined) => Array.from({ length: n }, () => t);
  switch (node.opType) {
    case 'Cast':
      return all(Number(attr('to')?.i ?? 0));
    case 'Shape':
    case 'Size':
    case 'ArgMax':
    case 'ArgMin':
      return all(CODE.int64);
    case 'Equal': case 'Less': case 'LessOrEqual': case 'Greater': case 'GreaterOrEqual':
    case 'And': case 'Or': case 'Not': case 'IsNaN': case 'IsInf':
      return all(CODE.bool);
    case 'Constant':
    case 'ConstantOfShape':
      return all(attr('value')?.t?.dataType ?? CODE.float32);
    case 'MaxPool':
      return [inputType(0), CODE.int64];
    case 'Where':
      return all(inputType(1));
    case 'Loop': {
      // Outputs: the carried values (inputs 2...), then the body's scan outputs.
      const carried = (node.input?.length ?? 2) - 2;
      const bodyOut = body(attr('body')!.g!);
      return Array.from({ length: n }, (_, i) => (i < carried ? inputType(i + 2) : bodyOut[1 + i]));
    }
    default:
      return all(inputType(0));
  }
}

function intAttr(node: onnxTypes.INodeProto, name: string): number | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.i === undefined || a.i === null ? undefined : Number(a.i);
}

export interface CudaProblem {
  /** One line naming the node and why. */
  line: string;
  /** The provider refuses the node (the session fails to open); else it runs on the CPU, with copies. */
  refused: boolean;
}

/**
 * Every node of `model` (Loop bodies included) the CUDA provider has no
 * kernel for, for its element type, or refuses; one line each naming the
 * node. Empty when the whole model can run on CUDA.
 */
export function cudaProblems(model: ModelProto): string[] {
  return findProblems(model).map((p) => p.line);
}

/** The nodes of `model` the CUDA provider refuses, so that a session cannot open. */
export function cudaRefusals(model: ModelProto): string[] {
  return findProblems(model).filter((p) => p.refused).map((p) => p.line);
}

function findProblems(model: ModelProto): CudaProblem[] {
  const opset = Number(model.opsetImport?.find((o) => !o.domain)?.version ?? 0);
  const found: CudaProblem[] = [];
  const problems = { push: (line: string, refused = false) => found.push({ line, refused }) };

  const walk = (g: GraphProto, outer: ReadonlyMap<string, number>, where: string): number[] => {
    const types = new Map(outer);
    for (const v of [...(g.input ?? []), ...(g.valueInfo ?? [])]) types.set(v.name!, v.type?.tensorType?.elemType ?? 0);
    for (const t of g.initializer ?? []) types.set(t.name!, t.dataType ?? 0);
    for (const node of g.node ?? []) {
      const inputType = (i: number) => {
        const name = node.input?.[i];
        return name ? types.get(name) : undefined;
      };
      const label = `${where}${node.name || node.output?.[0]} (${node.opType})`;
      const kernel = CUDA_KERNELS[node.opType ?? ''];
      if (node.domain) problems.push(`${label}: domain '${node.domain}' has no CUDA kernel in the table`);
      else if (!kernel) problems.push(`${label}: no CUDA kernel`);
      else {
        const t = inputType(kernel.input);
        const name = t === undefined ? undefined : NAME_OF.get(t);
        if (t !== undefined && (!name || !kernel.types.includes(name))) {
          problems.push(`${label}: no CUDA kernel for ${name ?? `element type ${t}`} (it has ${kernel.types.join(', ')})`);
        }
      }
      if (node.opType === 'BatchNormalization' && intAttr(node, 'training_mode') === 1 && opset >= 14) {
        problems.push(`${label}: training_mode=1 at opset ${opset}, which the CUDA kernel refuses (it supports training mode only below opset 14)`, true);
      }
      const out = outputTypes(node, inputType, (body) => walk(body, types, `${label} body: `));
      (node.output ?? []).forEach((name, i) => {
        const t = out[i];
        if (name && t !== undefined) types.set(name, t);
      });
    }
    return (g.output ?? []).map((o) => o.type?.tensorType?.elemType ?? types.get(o.name!) ?? 0);
  };

  walk(model.graph ?? {}, new Map(), '');
  return found;
}
