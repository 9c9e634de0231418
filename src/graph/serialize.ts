// A graph as ONNX: ModelProto bytes, deterministic (attributes in name order,
// only live nodes, only used initializers), at OPSET and IR_VERSION.
import { ONNX_DTYPE_CODE, type AnyTypedArray, type DType } from '../onnx/dtype.ts';
import { onnx, tensorProto, type ModelProto } from '../onnx/proto.ts';
import { IR_VERSION, OPSET, type Attr } from './ir.ts';
import type { Shape } from './shape.ts';

/** What serialising reads of a value and of a node (core.ts's Value and Node have these and more). */
interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

interface Node {
  readonly opType: string;
  readonly name: string;
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, Attr>>;
}

/** What serialising needs of a graph. */
export interface SerialisableGraph {
  readonly name: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly initializers: readonly { value: Value; data: AnyTypedArray }[];
}

export function modelProto(g: SerialisableGraph, live: readonly Node[], opts: { docString?: string } = {}): ModelProto {
  const usedInits = new Set<Value>(live.flatMap((n) => n.inputs.filter((v): v is Value => v !== null)));
  for (const o of g.outputs) usedInits.add(o);
  const graph = onnx.GraphProto.create({
    name: g.name,
    node: live.map(nodeProto),
    initializer: g.initializers.filter((i) => usedInits.has(i.value)).map((i) => tensorProto(i.value.name, i.value.dtype, i.value.shape as number[], i.data)),
    input: g.inputs.map(valueInfo),
    output: g.outputs.map(valueInfo),
  });
  return onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'lossgraph',
    docString: opts.docString ?? '',
    opsetImport: [{ domain: '', version: OPSET }],
    graph,
  });
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
