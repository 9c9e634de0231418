// k training steps in one run: the training graph becomes the body of an ONNX
// `Loop`, so parameters, running statistics and optimizer state enter the
// runtime once and come back once per k steps instead of every step.
// onnxruntime-node has no IO binding, so each run copies every carried tensor
// out of the runtime into fresh JavaScript buffers; for a small model that
// copy is a large part of a step. Inside the Loop each step's updated tensors
// feed the next step where they lie.
//
// The transform works on the serialised training graph and needs nothing of
// the compiler, so the runtime derives the k-step graph from any artifact
// folder; k is the length of the `lr` input, chosen per run.
//
//   inputs   every carried X (as in one step); input [k, B, ...], labels [k, B],
//            targets [k, B, K], lr [k]: one slice per step; step: the first
//            step's number; seed and loss hyperparameters: the same for all k
//   outputs  X.updated after the k-th step; loss [k], each loss term [k] and
//            grad_norm [k]: one value per step
import type { onnx as onnxTypes } from 'onnx-proto';
import { ArtifactError } from '../errors.ts';
import { decodeModel, encodeModel, onnx } from '../onnx/proto.ts';
import { GRAD_NORM, TENSORS, termOutput, updated, type Manifest } from '../artifacts/contract.ts';

/** The symbolic length of the k-step graph's per-step inputs and outputs. */
export const STEPS_DIM = 'steps';

/** Prefix of every name the Loop body defines: ONNX forbids a subgraph to reuse a name of the graph around it. */
const BODY = 'step/';

/** Inputs with one slice per step, taken by the step's iteration number. */
const PER_STEP: readonly string[] = [TENSORS.input, TENSORS.labels, TENSORS.targets, TENSORS.lr];

type ValueInfo = onnxTypes.IValueInfoProto;

/** A ValueInfo named `name` with `info`'s element type and `dims` in front of its shape (or in place of it). */
function retyped(info: ValueInfo, name: string, lead: (string | number)[] = [], replace = false): ValueInfo {
  const t = info.type?.tensorType;
  const dims = lead.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: t?.elemType ?? 1, shape: { dim: replace ? dims : [...dims, ...(t?.shape?.dim ?? [])] } } },
  });
}

function scalarInfo(name: string, elemType: number): ValueInfo {
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim: [] } } } });
}

const node = (opType: string, input: string[], output: string[], attribute: unknown[] = []) =>
  onnx.NodeProto.create({ opType, name: `${output[0]}/${opType}`, input, output, attribute: attribute as never[] });

/** Whether artifacts built for `manifest` can train k steps per run (graphs built for the CPU or CUDA target). */
export function supportsMultiStep(manifest: Manifest): boolean {
  return (manifest.spec.target ?? 'cpu') !== 'webgpu';
}

/** The names the k-step graph outputs once per step (loss, loss terms, gradient norm), present in this training graph. */
export function perStepOutputs(manifest: Manifest, trainingOutputs: readonly string[]): string[] {
  const wanted = [TENSORS.loss, ...(manifest.terms ?? []).map(termOutput), GRAD_NORM];
  return wanted.filter((n) => trainingOutputs.includes(n));
}

/** The k-step training model for `training` (the bytes of a training_model.onnx built for `manifest`). */
export function multiStepTrainingModel(training: Uint8Array, manifest: Manifest): Uint8Array {
  if (!supportsMultiStep(manifest)) {
    throw new ArtifactError(`several steps per run need artifacts built for the CPU or CUDA target; these were built for '${manifest.spec.target}'`);
  }
  const model = decodeModel(training);
  const g = model.graph!;
  const inputs = new Map((g.input ?? []).map((i) => [i.name!, i]));
  const outputs = new Map((g.output ?? []).map((o) => [o.name!, o]));
  const carried = manifest.carried.map((c) => c.name);
  for (const name of [...carried, TENSORS.lr, TENSORS.step]) {
    if (!inputs.has(name)) throw new ArtifactError(`the training graph has no input '${name}'; rebuild the artifacts`);
  }
  for (const name of carried) if (!outputs.has(updated(name))) throw new ArtifactError(`the training graph has no output '${updated(name)}'; rebuild the artifacts`);

  // Inputs that stay the same over the k steps (seed, loss hyperparameters) are read from the outer graph by name.
  const perStep = PER_STEP.filter((n) => inputs.has(n));
  const outer = new Set([...inputs.keys()].filter((n) => !carried.includes(n) && !perStep.includes(n) && n !== TENSORS.step));
  const inBody = (name: string) => (name === '' || outer.has(name) ? name : BODY + name);

  const iteration = `${BODY}iteration`;
  const cond = `${BODY}cond`;
  const scans = perStepOutputs(manifest, [...outputs.keys()]);
  const bodyNodes = [
    // This step's slice of each per-step input, and its step number.
    ...perStep.map((n) => node('Gather', [n, iteration], [inBody(n)], [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }])),
    node('Add', [TENSORS.step, iteration], [inBody(TENSORS.step)]),
    node('Identity', [cond], [`${cond}.out`]),
    ...(g.node ?? []).map((n) =>
      onnx.NodeProto.create({ ...n, name: inBody(n.name ?? ''), input: (n.input ?? []).map(inBody), output: (n.output ?? []).map(inBody) }),
    ),
  ];
  const body = onnx.GraphProto.create({
    name: 'training_step',
    node: bodyNodes,
    initializer: (g.initializer ?? []).map((t) => onnx.TensorProto.create({ ...t, name: inBody(t.name!) })),
    input: [
      scalarInfo(iteration, onnx.TensorProto.DataType.INT64),
      scalarInfo(cond, onnx.TensorProto.DataType.BOOL),
      ...carried.map((n) => retyped(inputs.get(n)!, inBody(n))),
    ],
    output: [
      scalarInfo(`${cond}.out`, onnx.TensorProto.DataType.BOOL),
      ...carried.map((n) => retyped(outputs.get(updated(n))!, inBody(updated(n)))),
      ...scans.map((n) => retyped(outputs.get(n)!, inBody(n))),
    ],
  });

  const count = 'steps.count';
  const loop = onnx.GraphProto.create({
    name: 'training_steps',
    node: [
      // k is the length of lr: one learning rate per step.
      node('Size', [TENSORS.lr], [count]),
      node('Loop', [count, '', ...carried], [...carried.map(updated), ...scans], [{ name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body }]),
    ],
    input: [...inputs.values()].map((i) => (perStep.includes(i.name!) ? retyped(i, i.name!, [STEPS_DIM], i.name === TENSORS.lr) : i)),
    output: [...carried.map((n) => outputs.get(updated(n))!), ...scans.map((n) => retyped(outputs.get(n)!, n, [STEPS_DIM]))],
  });
  return encodeModel(onnx.ModelProto.create({ ...model, graph: loop }));
}
