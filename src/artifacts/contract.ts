// What a built artifact folder *is*, for everything that reads one: the
// manifest's type, the file names, the tensor names every graph shares, the
// checkpoint's bytes, and baking trained weights into the inference model.
// It imports no part of the compiler and no Node built-in, so the runtime,
// the driver and the web page depend on it alone.
import { ArtifactError } from '../errors.ts';
import type { Target } from '../graph/graph.ts';
import { decodeModel, encodeModel } from '../onnx/proto.ts';
import type { HyperparameterInfo, Unscheduled } from '../hyperparameters.ts';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.ts';

export type { NamedTensor };

export const MANIFEST_FORMAT = 'lossgraph-artifacts/1';
export const CHECKPOINT_FORMAT = 'lossgraph-checkpoint/1';

export const FILES = {
  training: 'training_model.onnx',
  eval: 'eval_model.onnx',
  inference: 'inference_model.onnx',
  checkpoint: 'checkpoint.safetensors',
  manifest: 'manifest.json',
} as const;

/** Names of the graphs' inputs and outputs. A carried tensor X comes back from a step as `updated(X)`. */
export const TENSORS = {
  /** [B, C, H, W] float32 examples. */
  input: 'input',
  /** [B] int64 class labels. */
  labels: 'labels',
  /** [B, K] float32 targets, for losses that read them. */
  targets: 'targets',
  /** Training only: learning rate, step number (1-based), dropout seed. */
  lr: 'lr',
  step: 'step',
  seed: 'seed',
  /** Outputs. */
  loss: 'loss',
  logits: 'logits',
  probabilities: 'probabilities',
  /** Per-class scores of embedding models, in place of probabilities. */
  scores: 'scores',
  class: 'class',
  expectedClass: 'expected_class',
} as const;

export const updated = (name: string): string => `${name}.updated`;

/** The output holding one loss term's own value, e.g. 'loss/gaussian_kl'. */
export const termOutput = (label: string): string => `loss/${label}`;

/** The training graph's output of the global gradient norm (before clipping), when clipping is on. */
export const GRAD_NORM = 'grad_norm';

/** One example's shape: [C, H, W] for images, [F] for a feature vector. */
export type InputShape = [number, number, number] | [number];

/** The shape as an image's [C, H, W]: a feature vector [F] is one row of F grey pixels. */
export function imageShape(input: InputShape): [number, number, number] {
  return input.length === 1 ? [1, 1, input[0]] : input;
}

export interface ArtifactSpec {
  /** e.g. 'mlp:512' or 'cnn:32,64,128'. */
  model: string;
  /** A loss spec, e.g. 'ce + 0.5*gaussian_kl(sigma=2)'. */
  loss: string;
  classes: number;
  /** One example's shape: [C, H, W] images, or [F] feature vectors (mlp and linear models). */
  input: InputShape;
  /** 'sgd', 'adamw', or with options, e.g. 'sgd:momentum=0.9,nesterov=1'. */
  optimizer: string;
  seed: number;
  /** Values of the loss spec's named parameters. */
  lossParams?: Record<string, number>;
  /** Class hierarchy levels (for `hierarchical`). */
  hierarchy?: Record<string, number[]>;
  /** Class weights (for `ce`, `label_smoothing`, `focal`), baked in as a constant. */
  classWeights?: number[];
  /** Importance weights of the K-1 ordinal thresholds (for `coral`, `corn`), baked in as a constant. */
  importanceWeights?: number[];
  /** The data supplies [B, K] targets (multi-hot, soft or regression) with every batch. */
  targets?: boolean;
  /** Embedding size for `minmax` (default 32). */
  embeddingDim?: number;
  /** Clip the global gradient norm to this value before the update (PyTorch's clip_grad_norm_). */
  clipGradNorm?: number;
  /**
   * The runtime the graphs are built for. 'webgpu' uses forms onnxruntime-web's
   * WebGPU provider runs without CPU fallback: int32 labels, step and seed,
   * log-softmax as x - logsumexp(x), pairwise gradient sums. 'cuda' uses forms
   * ONNX Runtime's CUDA provider runs (see graph/cuda_forms.ts). Default 'cpu'.
   */
  target?: Target;
}

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

/** A loss hyperparameter as the manifest records it. */
export type ManifestHyperparameter = HyperparameterInfo;
export type { Unscheduled };

/**
 * What an onnxruntime-web session needs to run `--target webgpu` graphs on the GPU
 * alone: the WebGPU provider with the NCHW layout (its default, NHWC, transforms
 * the training graphs' convolutions with int64 Gathers it has no kernel for, and
 * the CNN training graphs are then refused), and no CPU fallback (a node that
 * fell back would copy every tensor it touches each step). The runtime uses this
 * object, and the manifest of a WebGPU-target build carries it as
 * `session.webgpu`, so a page of one's own can pass it to
 * `InferenceSession.create` as it is.
 */
export const WEBGPU_SESSION_OPTIONS = {
  executionProviders: [{ name: 'webgpu', preferredLayout: 'NCHW' }],
  extra: { session: { disable_cpu_ep_fallback: '1' } },
} as const;

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  lossgraph: string;
  opset: number;
  spec: ArtifactSpec;
  head: 'logits' | 'coral' | 'thresholds' | 'embedding';
  ordinal: boolean;
  graphs: Record<'training' | 'eval' | 'inference', { file: string; inputs: TensorInfo[]; outputs: TensorInfo[]; sha256?: string }>;
  hyperparameters: ManifestHyperparameter[];
  /** Labels of the loss terms; the training and eval graphs output each as `termOutput(label)`. */
  terms?: string[];
  /** Schedulable arguments no hyperparameter reaches alone: a schedule asked for them is refused. */
  unscheduled?: Unscheduled[];
  /** Trainable parameters, then state (running statistics), then optimizer state: what the checkpoint holds. */
  carried: { name: string; shape: number[]; kind: 'parameter' | 'state' | 'optimizer' }[];
  checkpoint: string;
  /** Session options every graph of this build needs, per runtime (`webgpu` for a WebGPU-target build). */
  session?: { webgpu?: typeof WEBGPU_SESSION_OPTIONS };
}

/** CRC-32 (IEEE) table, built once. */
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 of byte chunks in order, as 8 hex digits. */
function crc32(chunks: Iterable<Uint8Array>): string {
  let c = 0xffffffff;
  for (const bytes of chunks) for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ((c ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
}

/** CRC-32 of the tensors' bytes in order: catches flipped bits that the safetensors header cannot. */
export function tensorsCrc32(tensors: readonly NamedTensor[]): string {
  return crc32(tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)));
}

/** CRC-32 of the checkpoint's metadata (every entry but this checksum, sorted): a changed step or history is damage too. */
function metadataCrc32(meta: Readonly<Record<string, string>>): string {
  const text = Object.keys(meta).filter((k) => k !== 'meta_crc32').sort().map((k) => `${k}=${meta[k]}`).join('\n');
  return crc32([new TextEncoder().encode(text)]);
}

/** A checkpoint for `manifest`'s artifacts: carried tensors plus what resuming needs, and a checksum of the tensors. */
export function checkpointBytes(manifest: Manifest, tensors: readonly NamedTensor[], step: number, extra: Record<string, string> = {}): Uint8Array {
  const meta: Record<string, string> = {
    crc32: tensorsCrc32(tensors),
    format: CHECKPOINT_FORMAT,
    model: manifest.spec.model,
    loss: manifest.spec.loss,
    classes: String(manifest.spec.classes),
    input: manifest.spec.input.join('x'),
    optimizer: manifest.spec.optimizer,
    step: String(step),
    ...extra,
  };
  return encodeSafetensors(tensors, { ...meta, meta_crc32: metadataCrc32(meta) });
}

export interface LoadedCheckpoint {
  tensors: Map<string, Float32Array>;
  step: number;
  metadata: Record<string, string>;
}

/** Decodes checkpoint bytes (`path` names them in errors) and checks them against `manifest`. */
export function parseCheckpoint(bytes: Uint8Array, path: string, manifest: Manifest): LoadedCheckpoint {
  const file = decodeSafetensors(bytes, path);
  const meta = file.metadata;
  const saved = `model '${meta.model ?? '?'}', loss '${meta.loss ?? '?'}', ${meta.classes ?? '?'} classes, input ${meta.input ?? '?'}`;
  const wanted = `model '${manifest.spec.model}', loss '${manifest.spec.loss}', ${manifest.spec.classes} classes, input ${manifest.spec.input.join('x')}`;
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const mismatch = (detail: string): never => {
    throw new ArtifactError(`${path} was saved for ${saved}, not for these artifacts (${wanted}): ${detail}`);
  };
  if (meta.format !== CHECKPOINT_FORMAT) mismatch('it is not a lossgraph checkpoint');
  for (const c of manifest.carried) {
    const t = byName.get(c.name);
    if (!t) mismatch(`tensor '${c.name}' is missing`);
    if (t!.shape.join(',') !== c.shape.join(',')) mismatch(`tensor '${c.name}' has shape [${t!.shape}], expected [${c.shape}]`);
  }
  const extra = file.tensors.find((t) => !manifest.carried.some((c) => c.name === t.name));
  if (extra) mismatch(`it holds a tensor '${extra.name}' these artifacts do not have`);
  const step = Number(meta.step ?? '0');
  if (!Number.isInteger(step) || step < 0) mismatch(`its step '${meta.step}' is not a count`);
  if (meta.crc32 !== undefined && meta.crc32 !== tensorsCrc32(file.tensors)) {
    throw new ArtifactError(`${path} is damaged: its tensors do not match the checksum saved with them (crc32 ${meta.crc32}); use an earlier checkpoint`);
  }
  // Checkpoints written before the metadata checksum existed have none; every newer one is checked.
  if (meta.meta_crc32 !== undefined && meta.meta_crc32 !== metadataCrc32(meta)) {
    throw new ArtifactError(`${path} is damaged: its metadata (step, history) does not match the checksum saved with it; use an earlier checkpoint`);
  }
  // lossgraph never saves non-finite weights (a diverged run keeps its last good checkpoint): such a file was not written by a finished step.
  for (const t of file.tensors) {
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new ArtifactError(`${path} holds ${t.data[bad]} in '${t.name}' (element ${bad}); use an earlier checkpoint`);
  }
  return { tensors: new Map(file.tensors.map((t) => [t.name, t.data])), step, metadata: meta };
}

/**
 * The inference model with `tensors` (trained parameters and running
 * statistics) in place of the initializers of the same names. The inference
 * graph holds every parameter and statistic as an initializer named after it,
 * so baking is a byte copy, with no graph rebuilt.
 */
export function bakeInference(model: Uint8Array, tensors: readonly NamedTensor[]): Uint8Array {
  const proto = decodeModel(model);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const init of proto.graph?.initializer ?? []) {
    const t = byName.get(init.name ?? '');
    if (!t) continue;
    const expected = (init.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
    if (t.data.length !== expected) throw new ArtifactError(`cannot bake '${t.name}': ${t.data.length} values for an initializer of ${expected}`);
    init.rawData = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
  }
  return encodeModel(proto);
}
