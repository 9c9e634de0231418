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
import { EXACT_LIMIT } from '../models/dropout.ts';
import { grad } from '../autograd/grad.ts';
import { FieldError, LossgraphError } from '../errors.ts';
import { lowerForCuda } from '../graph/cuda_forms.ts';
import { Graph, OPSET, TARGETS, type Value } from '../graph/graph.ts';
import { buildLoss, predictions } from '../losses/compile.ts';
import { parseLossSpec, type LossSpec } from '../losses/loss_spec.ts';
import type { LossContext } from '../losses/types.ts';
import { ModelBuilder, type GraphKind } from '../models/builder.ts';
import { initParams } from '../models/params.ts';
import type { ImportedModel } from '../models/onnx_import.ts';
import { forwardModel, importedFeatures, parseModelSpec, type HeadSpec } from '../models/zoo.ts';
import { optimizerState, optimizerUpdate, parseOptimizerSpec } from '../optim/optimizers.ts';
import { FILES, GRAD_NORM, MANIFEST_FORMAT, TENSORS, WEBGPU_SESSION_OPTIONS, checkpointBytes, termOutput, updated, type ArtifactSpec, type Manifest, type ManifestHyperparameter, type NamedTensor, type TensorInfo, type Unscheduled } from './contract.ts';

export { FILES, checkpointBytes, type ArtifactSpec, type Manifest };
import { VERSION } from '../version.ts';
import { formsOf } from '../graph/forms.ts';

export interface BuiltArtifacts {
  manifest: Manifest;
  files: Record<string, Uint8Array>;
}

/** The trainable class table of embedding heads (minmax). */
const CLASS_EMBEDDINGS = 'minmax.class_embeddings';

function headFor(spec: ArtifactSpec, loss: LossSpec): HeadSpec {
  if (loss.head === 'embedding') return { kind: 'embedding', classes: spec.classes, dim: spec.embeddingDim ?? 32 };
  if (loss.head === 'thresholds') return { kind: loss.modelHead === 'coral' ? 'coral' : 'thresholds', classes: spec.classes };
  return { kind: 'logits', classes: spec.classes };
}

function checkWeights(what: string, field: string, weights: readonly number[] | undefined, count: number, per: string): void {
  if (!weights) return;
  if (weights.length !== count) throw new FieldError(field, `: ${weights.length} ${what} for ${count} ${per}`);
  const bad = weights.findIndex((w) => !Number.isFinite(w) || w < 0);
  if (bad >= 0) throw new FieldError(field, `: ${what.replace(/s$/, '')} ${bad} is ${weights[bad]}; weights must be finite and >= 0`);
  if (!weights.some((w) => w > 0)) throw new FieldError(field, `: every ${what.replace(/s$/, '')} is 0`);
}

/** One example may hold at most this many values (64M: 256 MiB of float32, a 3x4096x4096 image is 48M). */
const MAX_EXAMPLE_ELEMENTS = 64 * 2 ** 20;

function validate(spec: ArtifactSpec): void {
  // Worded for the API; the CLI says its option for the field (FieldError).
  if (!Number.isInteger(spec.classes) || spec.classes < 2) throw new FieldError('classes', ` must be an integer >= 2, got ${spec.classes}`);
  const input = Array.isArray(spec.input) ? spec.input : [];
  if (![1, 3].includes(input.length) || input.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new FieldError('input', ` must be [C, H, W] (an image, e.g. [1, 28, 28]; 1x28x28 on the command line) or [F] (F features, for mlp and linear models) of positive integers, got ${JSON.stringify(spec.input)}`);
  }
  const elements = input.reduce((a, b) => a * b, 1);
  if (elements > MAX_EXAMPLE_ELEMENTS) throw new FieldError('input', ` ${input.join('x')} is ${elements.toExponential(2)} values per example; at most ${MAX_EXAMPLE_ELEMENTS / 2 ** 20}M (${MAX_EXAMPLE_ELEMENTS * 4 / 2 ** 30} GiB of float32)`);
  if (input.length === 1 && !/^(mlp|linear)\b/.test(spec.model)) {
    throw new FieldError('input', ` [${input[0]}] is a feature vector, which only mlp and linear models read; '${spec.model}' needs images [C, H, W]`);
  }
  if (spec.embeddingDim !== undefined && !(Number.isInteger(spec.embeddingDim) && spec.embeddingDim >= 1 && spec.embeddingDim <= 65536)) {
    throw new FieldError('embeddingDim', ` must be an integer from 1 to 65536, got ${spec.embeddingDim}`);
  }
  if (!Number.isInteger(spec.seed)) throw new FieldError('seed', ` must be an integer, got ${spec.seed}`);
  if (spec.clipGradNorm !== undefined && !(spec.clipGradNorm > 0 && Number.isFinite(spec.clipGradNorm))) {
    throw new FieldError('clipGradNorm', ` must be a positive number, got ${spec.clipGradNorm}`);
  }
  if (spec.target !== undefined && !TARGETS.includes(spec.target)) throw new FieldError('target', ` '${spec.target}': use ${TARGETS.join(', ')}`);
  // The WebGPU form of dropout hashes in exact float32 arithmetic (models/dropout.ts).
  if (spec.target === 'webgpu' && Math.abs(spec.seed) >= EXACT_LIMIT) {
    throw new FieldError('seed', ` ${spec.seed}: for the webgpu target the seed must lie strictly between -${EXACT_LIMIT} and ${EXACT_LIMIT}`);
  }
  checkWeights('class weights', 'classWeights', spec.classWeights, spec.classes, 'classes');
  checkWeights('importance weights', 'importanceWeights', spec.importanceWeights, spec.classes - 1, 'thresholds (K-1)');
}

interface Assembled {
  graph: Graph;
  builder: ModelBuilder;
  hyperparameters: ManifestHyperparameter[];
  unscheduled: Unscheduled[];
  terms: string[];
  optimizer: { name: string; shape: number[] }[];
}

/** Builds one of the three graphs. `values` (by name) are baked into an inference graph. */
export function assembleGraph(spec: ArtifactSpec, kind: GraphKind, values?: ReadonlyMap<string, Float32Array>, imported?: ImportedModel, parsed?: LossSpec): Assembled {
  validate(spec);
  const loss = parsed ?? parseLossSpec(spec.loss);
  if (spec.classWeights && !loss.readsClassWeights) {
    throw new LossgraphError(`class weights: no term of '${spec.loss}' reads them (ce, label_smoothing and focal do); drop them or add such a term`);
  }
  const model = parseModelSpec(spec.model);
  const head = headFor(spec, loss);
  // The inference graph is the same on every target (its plain forms run everywhere); training and eval take the target's forms.
  const g = new Graph(kind === 'training' ? 'training_model' : kind === 'eval' ? 'eval_model' : 'inference_model', kind === 'inference' ? 'cpu' : spec.target ?? 'cpu');
  const x = g.input(TENSORS.input, 'float32', ['batch', ...spec.input]);
  // The eval and inference graphs end in the spec's prediction outputs, so evaluation needs no inference model.
  const outputPredictions = (out: Value, embeddings: Value | undefined) => {
    const p = predictions(loss, { g, out, classes: spec.classes, embeddings });
    g.output(p.probabilities, head.kind === 'embedding' ? TENSORS.scores : TENSORS.probabilities);
    g.output(p.class, TENSORS.class);
    if (p.expectedClass) g.output(p.expectedClass, TENSORS.expectedClass);
  };
  const classTable = (m: ModelBuilder) => (head.kind === 'embedding' ? m.param(CLASS_EMBEDDINGS, [spec.classes, head.dim], 'xavier-uniform', head.dim, spec.classes) : undefined);

  if (kind === 'inference') {
    const m = new ModelBuilder(g, 'inference', values);
    outputPredictions(forwardModel(m, model, x, head, imported), classTable(m));
    return { graph: g, builder: m, hyperparameters: [], unscheduled: [], terms: [], optimizer: [] };
  }

  const intType = formsOf(g).intType;
  const labels = g.input(TENSORS.labels, intType, ['batch']);
  const targets = loss.needs.has('targets') || spec.targets ? g.input(TENSORS.targets, 'float32', ['batch', spec.classes]) : undefined;
  const training = kind === 'training';
  const lr = training ? g.input(TENSORS.lr, 'float32', []) : undefined;
  const step = training ? g.input(TENSORS.step, intType, []) : undefined;
  const seed = training ? g.input(TENSORS.seed, intType, []) : undefined;
  const m = new ModelBuilder(g, kind, undefined, seed && step ? { seed, step } : undefined);
  const out = forwardModel(m, model, x, head, imported);
  const ctx: LossContext = { g, logits: out, labels, classes: spec.classes, targets, embeddings: classTable(m) };
  if (spec.hierarchy) ctx.hierarchy = spec.hierarchy;
  if (spec.classWeights) ctx.weights = g.constant('float32', [spec.classes], spec.classWeights);
  if (spec.importanceWeights) ctx.importance = g.constant('float32', [spec.classes - 1], spec.importanceWeights);
  const { loss: lossValue, hyperparameters, unscheduled, terms } = buildLoss(loss, ctx, { params: spec.lossParams });
  g.output(lossValue, TENSORS.loss);
  g.output(out, TENSORS.logits);
  // A term that is the whole loss is already the 'loss' output; ONNX needs a distinct value per output name.
  for (const t of terms) g.output(t.value === lossValue ? g.identity(t.value) : t.value, termOutput(t.label));
  const hypers = hyperparameters.map((h): ManifestHyperparameter => ({
    name: h.name,
    default: h.default,
    ...(h.range ? { range: h.range } : {}),
    ...(h.schedule ? { schedule: h.schedule } : {}),
    ...(h.role ? { role: h.role } : {}),
  }));
  if (!training) {
    outputPredictions(out, ctx.embeddings);
    return { graph: g, builder: m, hyperparameters: hypers, unscheduled, terms: terms.map((t) => t.label), optimizer: [] };
  }

  const paramValues = m.paramValues;
  let grads = grad(g, lossValue, paramValues);
  if (spec.clipGradNorm !== undefined) grads = clipByGlobalNorm(g, grads, spec.clipGradNorm);
  const optSpec = parseOptimizerSpec(spec.optimizer);
  const optState = optimizerState(optSpec, m.params);
  const optInputs = optState.map((s) => g.input(s.name, 'float32', s.shape));
  const next = optimizerUpdate(g, optSpec, { params: paramValues, grads, state: optInputs, lr: lr!, step: g.cast(step!, 'float32') });
  next.params.forEach((v, i) => g.output(v, updated(m.params[i]!.name)));
  for (const s of m.state) g.output(m.stateUpdates.get(s.name)!, updated(s.name));
  next.state.forEach((v, i) => g.output(v, updated(optState[i]!.name)));
  if (formsOf(g).lowerAfterAutodiff) lowerForCuda(g);
  return { graph: g, builder: m, hyperparameters: hypers, unscheduled, terms: terms.map((t) => t.label), optimizer: optState };
}

/**
 * Gradients scaled so their global L2 norm is at most `maxNorm`, PyTorch's
 * clip_grad_norm_: scale = min(1, maxNorm / (norm + 1e-6)). The norm itself is
 * a graph output (GRAD_NORM), so a non-finite gradient is seen at its step.
 */
function clipByGlobalNorm(g: Graph, grads: Value[], maxNorm: number): Value[] {
  const squares = grads.map((d) => g.reduceSum(g.mul(d, d), undefined, false));
  const total = squares.length === 1 ? squares[0]! : formsOf(g).sum === 'chain of Adds' ? squares.slice(1).reduce((a, b) => g.add(a, b), squares[0]!) : g.sum(squares);
  const norm = g.sqrt(total);
  g.output(norm, GRAD_NORM);
  const scale = g.min(g.div(g.scalar(maxNorm, 'float32'), g.add(norm, 1e-6)), 1);
  return grads.map((d) => g.mul(d, scale));
}

function infos(vs: readonly Value[]): TensorInfo[] {
  return vs.map((v) => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] }));
}

/**
 * Builds all artifacts in memory. Same spec, same bytes. A spec whose model is
 * `onnx:PATH` needs the model, read at the edge (importOnnxModel, or
 * readImportedModel in Node).
 */
export function buildArtifacts(spec: ArtifactSpec, imported?: ImportedModel, parsed?: LossSpec): BuiltArtifacts {
  // The loss spec is parsed once here (or by the caller) and the parsed value goes down to each graph.
  const loss = parsed ?? parseLossSpec(spec.loss);
  const training = assembleGraph(spec, 'training', undefined, imported, loss);
  const evalG = assembleGraph(spec, 'eval', undefined, imported, loss);
  const m = training.builder;
  const initial = initParams(m.params, spec.seed);
  const values = new Map<string, Float32Array>();
  m.params.forEach((p, i) => values.set(p.name, initial[i]!));
  for (const s of m.state) values.set(s.name, s.data ? s.data.slice() : new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(s.init));
  const inference = assembleGraph(spec, 'inference', values, imported, loss);

  const carried: Manifest['carried'] = [
    ...m.params.map((p) => ({ name: p.name, shape: p.shape, kind: 'parameter' as const })),
    ...m.state.map((s) => ({ name: s.name, shape: s.shape, kind: 'state' as const })),
    ...training.optimizer.map((s) => ({ name: s.name, shape: s.shape, kind: 'optimizer' as const })),
  ];
  const tensors: NamedTensor[] = carried.map((c) => ({ name: c.name, shape: c.shape, data: values.get(c.name) ?? new Float32Array(c.shape.reduce((a, b) => a * b, 1)) }));
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
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
    terms: training.terms,
    ...(training.unscheduled.length ? { unscheduled: training.unscheduled } : {}),
    carried,
    checkpoint: FILES.checkpoint,
    ...(spec.target === 'webgpu' ? { session: { webgpu: WEBGPU_SESSION_OPTIONS } } : {}),
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

/**
 * The graph of an imported model's frozen body: images of `spec.input` in,
 * the [B, F] features its replaced head reads out ('features'). With
 * train=head and frozen batch norm nothing in it trains, so a driver can
 * compute each image's features once and train the head (`linear`) on them.
 */
export function buildFeatureGraph(spec: ArtifactSpec, imported: ImportedModel): { bytes: Uint8Array; features: number } {
  const g = new Graph('feature_model');
  const m = new ModelBuilder(g, 'inference', new Map());
  const x = g.input(TENSORS.input, 'float32', ['batch', ...spec.input]);
  const features = importedFeatures(m, imported, x);
  if (m.params.length || m.state.length) throw new LossgraphError(`${imported.options.path}: the body has weights that train (${[...m.params, ...m.state].map((p) => p.name).slice(0, 3).join(', ')}); its features cannot be cached`);
  g.output(features, FEATURES_OUTPUT);
  return { bytes: g.toBytes(), features: Number(features.shape[1]) };
}

/** The feature graph's output. */
export const FEATURES_OUTPUT = 'features';
