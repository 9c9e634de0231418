// Checks on emitted ModelProto bytes.
import assert from 'node:assert/strict';
import { BACKWARD_OPS } from '../../src/autograd/registry.ts';
import { OPSET } from '../../src/graph/graph.ts';
import { decodeModel } from '../../src/onnx/proto.ts';

/** Every node is in the default ONNX domain and the model imports only that opset. */
export function assertStandardOnnx(bytes: Uint8Array, what: string): void {
  const m = decodeModel(bytes);
  assert.deepEqual(m.opsetImport.map((o) => [o.domain ?? '', Number(o.version)]), [['', OPSET]], `${what}: opset imports`);
  const foreign = (m.graph?.node ?? []).filter((n) => n.domain && n.domain !== 'ai.onnx');
  assert.deepEqual(foreign.map((n) => `${n.opType}@${n.domain}`), [], `${what}: nodes outside the default domain`);
}

/** Backward nodes (named under grad/) use only BACKWARD_OPS. */
export function assertBackwardOps(bytes: Uint8Array, what: string): void {
  const m = decodeModel(bytes);
  const bad = (m.graph?.node ?? []).filter((n) => (n.name ?? '').startsWith('grad/') && !BACKWARD_OPS.has(n.opType!));
  assert.deepEqual([...new Set(bad.map((n) => n.opType))], [], `${what}: backward ops outside the allowed list`);
}
