// `lossgraph build`: model + loss spec + optimizer -> an artifact folder, the
// counterpart of ONNX Runtime's generate_artifacts with standard ops only:
//
//   training_model.onnx   one run = forward, loss, backward, optimizer update
//   eval_model.onnx       loss and logits, no update (batch-norm running stats, no dropout)
//   inference_model.onnx  weights baked in: images -> probabilities, class (+ expected class)
//   checkpoint.safetensors parameters, running statistics, optimizer state, step
//   manifest.json         every input and output, hyperparameter defaults, the spec
//
// Every tensor carried from one step to the next is an input `X` of the
// training graph and comes back as the output `X.updated`.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { grad } from '../autograd/grad.ts';
import { LossgraphError } from '../errors.ts';
import { Graph, OPSET, type Value } from '../graph/graph.ts';
import { buildLoss, parseLossSpec, predictions, type LossSpec, type Unscheduled } from '../losses/compile.ts';
import type { LossContext, Range } from '../losses/types.ts';
import { ModelBuilder, type GraphKind } from '../models/builder.ts';
import { initParams } from '../models/params.ts';
import { forwardModel, parseModelSpec, type HeadSpec } from '../models/zoo.ts';
import { optimizerState, optimizerUpdate, parseOptimizerSpec } from '../optim/optimizers.ts';
import { encodeSafetensors, type NamedTensor } from './safetensors.ts';
import { VERSION } from '../version.ts';

export interface ArtifactSpec {
  /** e.g. 'mlp:512' or 'cnn:32,64,128'. */
  model: string;
  /** A loss spec, e.g. 'ce + 0.5*gaussian_kl(sigma=2)'. */
  loss: string;
  classes: number;
  /** One example's shape [C, H, W]. */
  input: [number, number, number];
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
}

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

export interface Manifest {
  format: 'lossgraph-artifacts/1';
  lossgraph: string;
  opset: number;
  spec: ArtifactSpec;
  head: HeadSpec['kind'];
  ordinal: boolean;
  graphs: Record<'training' | 'eval' | 'inference', { file: string; inputs: TensorInfo[]; outputs: TensorInfo[] }>;
  hyperparameters: ManifestHyperparameter[];
  /** Schedulable arguments no hyperparameter reaches alone: a schedule asked for them is refused. */
  unscheduled?: Unscheduled[];
  /** Trainable parameters, then state (running statistics), then optimizer state: what the checkpoint holds. */
  carried: { name: string; shape: number[]; kind: 'parameter' | 'state' | 'optimizer' }[];
  checkpoint: string;
}

export interface ManifestHyperparameter {
  name: string;
  default: number;
  /** Valid values; the runtime refuses to feed others. */
  range?: Range;
  /** The per-epoch schedule that may drive it ('sigma': --sigma-decay). */
  schedule?: 'sigma';
  /** 'temperature': a teacher's targets are softened by it. */
  role?: 'temperature';
}

export interface BuiltArtifacts {
  manifest: Manifest;
  files: Record<string, Uint8Array>;
}

export const FILES = {
  training: 'training_model.onnx',
  eval: 'eval_model.onnx',
  inference: 'inference_model.onnx',
  checkpoint: 'checkpoint.safetensors',
  manifest: 'manifest.json',
} as const;

function headFor(spec: ArtifactSpec, loss: LossSpec): HeadSpec {
  if (loss.head === 'embedding') return { kind: 'embedding', classes: spec.classes, dim: spec.embeddingDim ?? 32 };
  if (loss.head === 'thresholds') return { kind: loss.modelHead === 'coral' ? 'coral' : 'thresholds', classes: spec.classes };
  return { kind: 'logits', classes: spec.classes };
}

function checkWeights(what: string, flag: string, weights: readonly number[] | undefined, count: number, per: string): void {
  if (!weights) return;
  if (weights.length !== count) throw new LossgraphError(`${flag}: ${weights.length} ${what} for ${count} ${per}`);
  const bad = weights.findIndex((w) => !Number.isFinite(w) || w < 0);
  if (bad >= 0) throw new LossgraphError(`${flag}: ${what.replace(/s$/, '')} ${bad} is ${weights[bad]}; weights must be finite and >= 0`);
  if (!weights.some((w) => w > 0)) throw new LossgraphError(`${flag}: every ${what.replace(/s$/, '')} is 0`);
}

function validate(spec: ArtifactSpec): void {
  if (!Number.isInteger(spec.classes) || spec.classes < 2) throw new LossgraphError(`--classes must be an integer >= 2, got ${spec.classes}`);
  if (spec.input.length !== 3 || spec.input.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new LossgraphError(`--input must be CxHxW with positive integers, e.g. 1x28x28, got ${spec.input.join('x')}`);
  }
  if (!Number.isInteger(spec.seed)) throw new LossgraphError(`--seed must be an integer, got ${spec.seed}`);
  checkWeights('class weights', '--class-weights', spec.classWeights, spec.classes, 'classes');
  checkWeights('importance weights', '--importance-weights', spec.importanceWeights, spec.classes - 1, 'thresholds (K-1)');
}

interface Assembled {
  graph: Graph;
  builder: ModelBuilder;
  hyperparameters: ManifestHyperparameter[];
  unscheduled: Unscheduled[];
  optimizer: { name: string; shape: number[] }[];
}

/** Builds one of the three graphs. `values` (by name) are baked into an inference graph. */
export function assembleGraph(spec: ArtifactSpec, kind: GraphKind, values?: ReadonlyMap<string, Float32Array>): Assembled {
  validate(spec);
  const loss = parseLossSpec(spec.loss);
  const model = parseModelSpec(spec.model);
  const head = headFor(spec, loss);
  const g = new Graph(kind === 'training' ? 'training_model' : kind === 'eval' ? 'eval_model' : 'inference_model');
  const x = g.input('input', 'float32', ['batch', ...spec.input]);

  if (kind === 'inference') {
    const m = new ModelBuilder(g, 'inference', values);
    const out = forwardModel(m, model, x, head);
    const embeddings = head.kind === 'embedding' ? m.param('minmax.class_embeddings', [spec.classes, head.dim], 'xavier-uniform', head.dim, spec.classes) : undefined;
    const p = predictions(loss, { g, out, classes: spec.classes, embeddings });
    g.output(p.probabilities, head.kind === 'embedding' ? 'scores' : 'probabilities');
    g.output(p.class, 'class');
    if (p.expectedClass) g.output(p.expectedClass, 'expected_class');
    return { graph: g, builder: m, hyperparameters: [], unscheduled: [], optimizer: [] };
  }

  const labels = g.input('labels', 'int64', ['batch']);
  const targets = loss.needs.has('targets') || spec.targets ? g.input('targets', 'float32', ['batch', spec.classes]) : undefined;
  const training = kind === 'training';
  const lr = training ? g.input('lr', 'float32', []) : undefined;
  const step = training ? g.input('step', 'int64', []) : undefined;
  const seed = training ? g.input('seed', 'int64', []) : undefined;
  const m = new ModelBuilder(g, kind, undefined, seed && step ? { seed, step } : undefined);
  const out = forwardModel(m, model, x, head);
  const ctx: LossContext = { g, logits: out, labels, classes: spec.classes, targets };
  if (head.kind === 'embedding') ctx.embeddings = m.param('minmax.class_embeddings', [spec.classes, head.dim], 'xavier-uniform', head.dim, spec.classes);
  if (spec.hierarchy) ctx.hierarchy = spec.hierarchy;
  if (spec.classWeights) ctx.weights = g.constant('float32', [spec.classes], spec.classWeights);
  if (spec.importanceWeights) ctx.importance = g.constant('float32', [spec.classes - 1], spec.importanceWeights);
  const { loss: lossValue, hyperparameters, unscheduled } = buildLoss(loss, ctx, { params: spec.lossParams });
  g.output(lossValue, 'loss');
  g.output(out, 'logits');
  const hypers = hyperparameters.map((h): ManifestHyperparameter => ({
    name: h.name,
    default: h.default,
    ...(h.range ? { range: h.range } : {}),
    ...(h.schedule ? { schedule: h.schedule } : {}),
    ...(h.role ? { role: h.role } : {}),
  }));
  if (!training) return { graph: g, builder: m, hyperparameters: hypers, unscheduled, optimizer: [] };

  const paramValues = m.paramValues;
  const grads = grad(g, lossValue, paramValues);
  const optSpec = parseOptimizerSpec(spec.optimizer);
  const optState = optimizerState(optSpec, m.params);
  const optInputs = optState.map((s) => g.input(s.name, 'float32', s.shape));
  const updated = optimizerUpdate(g, optSpec, { params: paramValues, grads, state: optInputs, lr: lr!, step: g.cast(step!, 'float32') });
  updated.params.forEach((v, i) => g.output(v, `${m.params[i]!.name}.updated`));
  for (const s of m.state) g.output(m.stateUpdates.get(s.name)!, `${s.name}.updated`);
  updated.state.forEach((v, i) => g.output(v, `${optState[i]!.name}.updated`));
  return { graph: g, builder: m, hyperparameters: hypers, unscheduled, optimizer: optState };
}

function infos(vs: readonly Value[]): TensorInfo[] {
  return vs.map((v) => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] }));
}

/** Builds all artifacts in memory. Same spec, same bytes. */
export function buildArtifacts(spec: ArtifactSpec): BuiltArtifacts {
  const training = assembleGraph(spec, 'training');
  const evalG = assembleGraph(spec, 'eval');
  const m = training.builder;
  const initial = initParams(m.params, spec.seed);
  const values = new Map<string, Float32Array>();
  m.params.forEach((p, i) => values.set(p.name, initial[i]!));
  for (const s of m.state) values.set(s.name, new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(s.init));
  const inference = assembleGraph(spec, 'inference', values);
  const loss = parseLossSpec(spec.loss);

  const carried: Manifest['carried'] = [
    ...m.params.map((p) => ({ name: p.name, shape: p.shape, kind: 'parameter' as const })),
    ...m.state.map((s) => ({ name: s.name, shape: s.shape, kind: 'state' as const })),
    ...training.optimizer.map((s) => ({ name: s.name, shape: s.shape, kind: 'optimizer' as const })),
  ];
  const tensors: NamedTensor[] = carried.map((c) => ({ name: c.name, shape: c.shape, data: values.get(c.name) ?? new Float32Array(c.shape.reduce((a, b) => a * b, 1)) }));
  const manifest: Manifest = {
    format: 'lossgraph-artifacts/1',
    lossgraph: VERSION,
    opset: OPSET,
    spec,
    head: headFor(spec, loss).kind,
    ordinal: loss.ordinal,
    graphs: {
      training: { file: FILES.training, inputs: infos(training.graph.inputs), outputs: infos(training.graph.outputs) },
      eval: { file: FILES.eval, inputs: infos(evalG.graph.inputs), outputs: infos(evalG.graph.outputs) },
      inference: { file: FILES.inference, inputs: infos(inference.graph.inputs), outputs: infos(inference.graph.outputs) },
    },
    hyperparameters: training.hyperparameters,
    ...(training.unscheduled.length ? { unscheduled: training.unscheduled } : {}),
    carried,
    checkpoint: FILES.checkpoint,
  };
  return {
    manifest,
    files: {
      [FILES.training]: training.graph.toBytes(),
      [FILES.eval]: evalG.graph.toBytes(),
      [FILES.inference]: inference.graph.toBytes(),
      [FILES.checkpoint]: checkpointBytes(manifest, tensors, 0),
      [FILES.manifest]: new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`),
    },
  };
}

/** An inference graph with the given (trained) parameter and state values baked in. */
export function exportInference(manifest: Manifest, tensors: readonly NamedTensor[]): Uint8Array {
  return assembleGraph(manifest.spec, 'inference', new Map(tensors.map((t) => [t.name, t.data]))).graph.toBytes();
}

/** A checkpoint for `manifest`'s artifacts: carried tensors plus what resuming needs. */
export function checkpointBytes(manifest: Manifest, tensors: readonly NamedTensor[], step: number, extra: Record<string, string> = {}): Uint8Array {
  return encodeSafetensors(tensors, {
    format: 'lossgraph-checkpoint/1',
    model: manifest.spec.model,
    loss: manifest.spec.loss,
    classes: String(manifest.spec.classes),
    input: manifest.spec.input.join('x'),
    optimizer: manifest.spec.optimizer,
    step: String(step),
    ...extra,
  });
}

/** Writes `files` into `dir` atomically per file (temporary name, then rename). */
export function writeFiles(dir: string, files: Record<string, Uint8Array>): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(files).map(([name, bytes]) => {
    const path = join(dir, name);
    const tmp = `${path}.tmp`;
    try {
      writeFileSync(tmp, bytes);
      renameSync(tmp, path);
    } catch (e) {
      if (existsSync(tmp)) rmSync(tmp);
      throw new LossgraphError(`cannot write ${path}: ${(e as Error).message}`);
    }
    return path;
  });
}

/** The TypeScript API of `lossgraph build`: writes the artifact folder and returns the file paths. */
export function build(spec: ArtifactSpec & { out: string }): Record<keyof typeof FILES, string> {
  const { out, ...rest } = spec;
  const built = buildArtifacts(rest);
  writeFiles(out, built.files);
  return Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, join(out, f)])) as Record<keyof typeof FILES, string>;
}
