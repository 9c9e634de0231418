// Reading attributes of an imported model's nodes, and naming a node in messages.
import type { onnx as onnxTypes } from 'onnx-proto';

type NodeProto = onnxTypes.INodeProto;

export function nodeLabel(n: NodeProto): string {
  return `node '${n.name || n.output?.[0] || '?'}' (${n.opType})`;
}

export function attr(n: NodeProto, name: string): onnxTypes.IAttributeProto | undefined {
  return n.attribute?.find((a) => a.name === name);
}
export const attrInt = (n: NodeProto, name: string, d: number) => {
  const a = attr(n, name);
  return a && a.i !== undefined && a.i !== null ? Number(a.i) : d;
};
export const attrInts = (n: NodeProto, name: string) => attr(n, name)?.ints?.map(Number);
export const attrFloat = (n: NodeProto, name: string, d: number) => {
  const a = attr(n, name);
  return a && a.f !== undefined && a.f !== null ? Number(a.f) : d;
};
export const attrString = (n: NodeProto, name: string, d: string) => {
  const a = attr(n, name);
  return a?.s && a.s.length ? new TextDecoder().decode(a.s) : d;
};
