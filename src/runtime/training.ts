// Runs the artifacts of `lossgraph build`. The training graph is a pure
// function of its inputs: every tensor carried between steps (parameters,
// running statistics, optimizer state) goes in as `X` and comes back as
// `X.updated`, and the session keeps those outputs as runtime tensors for the
// next step, so nothing is copied element by element in JavaScript.
//
// Method names follow ONNX Runtime's TrainingSession where they fit
// (runTrainStep, runEvalStep); there is no separate optimizer step or
// gradient reset because one run already applies the update. runTrainSteps
// takes several steps in one run of the k-step graph (runtime/multistep.ts),
// so the carried tensors cross into JavaScript once per k steps.
import { FILES, GRAD_NORM, TENSORS, checkpointBytes, parseCheckpoint, termOutput, updated, type LoadedCheckpoint, type Manifest, type NamedTensor } from '../artifacts/contract.ts';
import { ArgumentError, ArtifactError, ProviderError } from '../errors.ts';
import { describeRange, inRange } from '../hyperparameters.ts';
import { decodeModel } from '../onnx/proto.ts';
import { cudaRefusals } from './cuda_kernels.ts';
import { multiStepTrainingModel, perStepOutputs, supportsMultiStep } from './multistep.ts';
import { Session, type OrtTensor, type SessionOptions } from './session.ts';

/**
 * Fails with one line, before ONNX Runtime does with a C++ status, when the
 * CUDA provider would refuse a node of the training graph: artifacts built for
 * the CPU target hold training-mode batch norm, which it refuses at our opset.
 */
function assertCudaAccepts(manifest: Manifest, training: Uint8Array): void {
  const refused = cudaRefusals(decodeModel(training));
  if (refused.length === 0) return;
  throw new ProviderError(
    `the CUDA provider refuses node ${refused[0]}; these artifacts were built for the '${manifest.spec.target ?? 'cpu'}' target: build them for CUDA (lossgraph train --ep cuda does so by itself; lossgraph build --target cuda)`,
  );
}

/**
 * Refuses a graph file whose inputs are not the ones its manifest lists (a
 * file copied from another run): said here in one line, where onnxruntime would
 * say it at the first step in several lines of its own.
 */
function fitsManifest(session: Session, manifest: Manifest, kind: 'training' | 'eval'): void {
  const shapes = session.inputShapes;
  if (shapes.size === 0) return;
  const file = manifest.graphs[kind].file;
  for (const want of manifest.graphs[kind].inputs) {
    const got = shapes.get(want.name);
    if (!got) throw new ArtifactError(`${file} has no input '${want.name}', which manifest.json lists; it is not this build's ${kind} graph (copied from another run?)`);
    const differs = got.length !== want.shape.length || got.some((d, i) => typeof d === 'number' && typeof want.shape[i] === 'number' && d !== want.shape[i]);
    if (differs) throw new ArtifactError(`${file}: input '${want.name}' is [${got.join(', ')}], manifest.json says [${want.shape.join(', ')}]; it is not this build's ${kind} graph (copied from another run?)`);
  }
}

export interface TrainBatch {
  /** [B, C, H, W] images (or [B, F] features, for an input of [F]), row-major. */
  images: Float32Array;
  labels: BigInt64Array;
  /** [B, K] soft, multi-hot or regression targets, for losses that need them. */
  targets?: Float32Array;
  /** Which examples of the data set the batch holds (for per-example caches such as a teacher's outputs). */
  indices?: Int32Array;
}

/** What an eval step returns: the loss, the model output and the prediction outputs. */
export interface EvalResult {
  loss: number;
  /** [B, K] (or [B, K-1], [B, D]) model output. */
  logits: Float32Array;
  /** [B, K] probabilities, or per-class scores for embedding models. */
  probabilities: Float32Array;
  /** [B] predicted class. */
  classes: BigInt64Array;
  /** [B] expected class, for ordinal models. */
  expectedClass?: Float32Array;
}

/** What one training step reports: its loss (before the update), each loss term, and the gradient norm when clipping. */
export interface StepResult {
  loss: number;
  terms: Record<string, number>;
  gradNorm?: number;
}

/** In-memory artifacts, as buildArtifacts returns them. */
export interface ArtifactFiles {
  manifest: Manifest;
  files: Record<string, Uint8Array>;
}

export class TrainingSession {
  /** Steps taken so far (the next step is number step + 1). */
  step: number;
  /** The last training step's loss terms (each before its weight) and global gradient norm (when clipping), for diagnostics. */
  lastStep: { terms: Record<string, number>; gradNorm?: number } = { terms: {} };
  private carried = new Map<string, OrtTensor>();
  /** The k-step session, opened on first use; undefined where these artifacts or this backend cannot run one. */
  private multi?: Promise<Session | undefined>;
  /** The last k-step run's concatenated batches, reused while k and the batch size stay the same. */
  private chunk?: { images: Float32Array; labels: BigInt64Array; targets?: Float32Array };
  private readonly hyper = new Map<string, OrtTensor>();
  private readonly trainFetches: string[];
  private readonly batchShape: number[];

  private constructor(
    readonly manifest: Manifest,
    readonly train: Session,
    readonly evaluator: Session,
    checkpoint: LoadedCheckpoint,
    /** The training graph's bytes and the options it was opened with, for the k-step session (none when opened from a path). */
    private readonly trainingModel?: { bytes: Uint8Array; opts: SessionOptions },
  ) {
    this.step = checkpoint.step;
    for (const c of manifest.carried) this.carried.set(c.name, train.tensor('float32', checkpoint.tensors.get(c.name)!, c.shape));
    for (const h of manifest.hyperparameters) this.setHyperparameter(h.name, h.default);
    const extra = [...(manifest.terms ?? []).map(termOutput), ...(manifest.spec.clipGradNorm !== undefined ? [GRAD_NORM] : [])];
    this.trainFetches = [TENSORS.loss, ...extra.filter((n) => train.outputNames.includes(n)), ...manifest.carried.map((c) => updated(c.name))];
    this.batchShape = manifest.spec.input;
  }

  /** Opens artifacts held in memory (built by `buildArtifacts`, or fetched by a page), from their checkpoint. */
  static async fromBuilt(built: ArtifactFiles, opts: SessionOptions = {}): Promise<TrainingSession> {
    const ckpt = parseCheckpoint(built.files[FILES.checkpoint]!, FILES.checkpoint, built.manifest);
    return TrainingSession.open(built.manifest, built.files[FILES.training]!, built.files[FILES.eval]!, ckpt, opts);
  }

  /**
   * Opens a training and an eval graph with the given checkpoint. Pass the
   * training graph as bytes (not a path) for runTrainSteps to use the k-step graph.
   */
  static async open(manifest: Manifest, training: Uint8Array | string, evaluation: Uint8Array | string, checkpoint: LoadedCheckpoint, opts: SessionOptions = {}) {
    // On WebGPU the updated parameters, running statistics and optimizer state stay on the GPU
    // from step to step; only the loss (and diagnostics) come back.
    const trainOpts = opts.providers?.[0] === 'webgpu' ? { ...opts, gpuOutputs: manifest.carried.map((c) => updated(c.name)) } : opts;
    if (opts.ep === 'cuda' && typeof training !== 'string') assertCudaAccepts(manifest, training);
    // One after the other: with onnxruntime-web 1.30, creating two WebGPU sessions at once in a worker never settled (seen in Chromium).
    const train = await Session.create(training, trainOpts);
    const evaluator = await Session.create(evaluation, opts);
    fitsManifest(train, manifest, 'training');
    fitsManifest(evaluator, manifest, 'eval');
    return new TrainingSession(manifest, train, evaluator, checkpoint, typeof training === 'string' ? undefined : { bytes: training, opts: trainOpts });
  }

  /** Where the carried tensors live between steps: 'cpu', 'gpu-buffer', or both names when they differ. */
  get stateLocation(): string {
    return [...new Set([...this.carried.values()].map((t) => t.location))].sort().join('+');
  }

  /** Where the steps run ('cpu', 'cuda', 'wasm' or 'webgpu'). */
  get backend(): string {
    return this.train.backend;
  }

  /** Changes a loss hyperparameter from the next step on (sigma's per-epoch decay, say); no rebuild. */
  setHyperparameter(name: string, value: number): void {
    const h = this.manifest.hyperparameters.find((x) => x.name === name);
    if (!h) {
      throw new ArgumentError(`no hyperparameter '${name}'; this loss has: ${this.manifest.hyperparameters.map((x) => x.name).join(', ') || 'none'}`);
    }
    if (!inRange(value, h.range)) {
      throw new ArgumentError(`hyperparameter '${name}' cannot be ${value}; it must be ${h.range ? describeRange(h.range) : 'a finite number'}`);
    }
    this.hyper.set(name, this.train.tensor('float32', new Float32Array([value]), []));
  }

  private batchFeeds(s: Session, b: TrainBatch): Record<string, OrtTensor> {
    const n = b.labels.length;
    const feeds = Session.feeds({
      [TENSORS.input]: s.tensor('float32', b.images, [n, ...this.batchShape]),
      [TENSORS.labels]: this.intTensor(s, b.labels, [n]),
    });
    if (s.inputNames.includes(TENSORS.targets)) {
      if (!b.targets) throw new ArtifactError(`loss '${this.manifest.spec.loss}' needs targets with every batch`);
      feeds[TENSORS.targets] = s.tensor('float32', b.targets, [n, this.manifest.spec.classes]);
    }
    for (const [name, t] of this.hyper) feeds[name] = t;
    return feeds;
  }

  /** Labels, step and seed in the graphs' integer type: int64, or int32 for artifacts built for WebGPU. */
  private intTensor(s: Session, values: BigInt64Array, dims: number[]): OrtTensor {
    return this.manifest.spec.target === 'webgpu' ? s.tensor('int32', Int32Array.from(values, Number), dims) : s.tensor('int64', values, dims);
  }

  /** One step (forward, loss, backward, update) at learning rate `lr`; returns the loss before the update. */
  async runTrainStep(batch: TrainBatch, lr: number): Promise<number> {
    const s = this.train;
    const feeds = this.batchFeeds(s, batch);
    feeds[TENSORS.lr] = s.tensor('float32', new Float32Array([lr]), []);
    feeds[TENSORS.step] = this.intTensor(s, new BigInt64Array([BigInt(this.step + 1)]), []);
    feeds[TENSORS.seed] = this.intTensor(s, new BigInt64Array([BigInt(this.manifest.spec.seed)]), []);
    for (const [name, t] of this.carried) feeds[name] = t;
    const out = await s.run(feeds, this.trainFetches);
    for (const [name, old] of this.carried) {
      // The previous step's GPU buffers are free once this step has read them.
      if (old.location === 'gpu-buffer') old.dispose();
      this.carried.set(name, out[updated(name)]!);
    }
    this.step++;
    const { loss, terms, gradNorm } = this.stepResult(out, 0);
    this.lastStep = { terms, gradNorm };
    return loss;
  }

  /** Step `i`'s loss, loss terms and gradient norm from a run's outputs (scalars after one step, [k] after k). */
  private stepResult(out: Record<string, OrtTensor>, i: number): StepResult {
    const at = (name: string) => (out[name] ? (out[name]!.data as Float32Array)[i]! : undefined);
    return {
      loss: at(TENSORS.loss)!,
      terms: Object.fromEntries((this.manifest.terms ?? []).flatMap((t) => (out[termOutput(t)] ? [[t, at(termOutput(t))!]] : []))),
      gradNorm: at(GRAD_NORM),
    };
  }

  /**
   * Several steps, one per batch, at the matching learning rates: the same
   * updates as that many runTrainStep calls. Where the artifacts were built
   * for the CPU target (and the session does not run on WebGPU) and the
   * batches have one size, all of them run as one run of the k-step graph;
   * otherwise one run per step. Returns every step's loss, terms and gradient
   * norm (the caller checks them: a non-finite loss does not stop the run).
   */
  async runTrainSteps(batches: readonly TrainBatch[], lrs: readonly number[]): Promise<StepResult[]> {
    if (lrs.length !== batches.length) throw new ArgumentError(`runTrainSteps: ${batches.length} batches but ${lrs.length} learning rates`);
    const n = batches[0]?.labels.length ?? 0;
    const session = batches.length > 1 && batches.every((b) => b.labels.length === n) ? await this.multiStepSession() : undefined;
    if (!session) {
      const results: StepResult[] = [];
      for (let i = 0; i < batches.length; i++) {
        const loss = await this.runTrainStep(batches[i]!, lrs[i]!);
        results.push({ loss, ...this.lastStep });
      }
      return results;
    }
    const k = batches.length;
    const size = this.batchShape.reduce((a, b) => a * b, 1);
    const classes = this.manifest.spec.classes;
    const wantsTargets = session.inputNames.includes(TENSORS.targets);
    batches.forEach((b, i) => {
      if (b.images.length !== n * size) throw new ArgumentError(`runTrainSteps: batch ${i} has ${b.images.length} image values for ${n} labels of ${this.batchShape.join('x')} images`);
      if (wantsTargets && !b.targets) throw new ArtifactError(`loss '${this.manifest.spec.loss}' needs targets with every batch`);
      if (wantsTargets && b.targets!.length !== n * classes) throw new ArgumentError(`runTrainSteps: batch ${i} has ${b.targets!.length} target values for ${n} labels of ${classes} classes`);
    });
    if (this.chunk?.labels.length !== k * n) {
      this.chunk = { images: new Float32Array(k * n * size), labels: new BigInt64Array(k * n), targets: wantsTargets ? new Float32Array(k * n * classes) : undefined };
    }
    const c = this.chunk;
    batches.forEach((b, i) => {
      c.images.set(b.images, i * n * size);
      c.labels.set(b.labels, i * n);
      if (c.targets) c.targets.set(b.targets!, i * n * classes);
    });
    const feeds = Session.feeds({
      [TENSORS.input]: session.tensor('float32', c.images, [k, n, ...this.batchShape]),
      [TENSORS.labels]: session.tensor('int64', c.labels, [k, n]),
      [TENSORS.lr]: session.tensor('float32', Float32Array.from(lrs), [k]),
      [TENSORS.step]: session.tensor('int64', new BigInt64Array([BigInt(this.step + 1)]), []),
      [TENSORS.seed]: session.tensor('int64', new BigInt64Array([BigInt(this.manifest.spec.seed)]), []),
    });
    if (c.targets) feeds[TENSORS.targets] = session.tensor('float32', c.targets, [k, n, classes]);
    for (const [name, t] of this.hyper) feeds[name] = t;
    for (const [name, t] of this.carried) feeds[name] = t;
    const perStep = perStepOutputs(this.manifest, session.outputNames);
    const out = await session.run(feeds, [...perStep, ...this.manifest.carried.map((x) => updated(x.name))]);
    for (const name of this.carried.keys()) this.carried.set(name, out[updated(name)]!);
    this.step += k;
    const results = Array.from({ length: k }, (_, i) => this.stepResult(out, i));
    this.lastStep = { terms: results[k - 1]!.terms, gradNorm: results[k - 1]!.gradNorm };
    return results;
  }

  /** Whether runTrainSteps runs several steps per run here (artifacts for the CPU target, opened from bytes, not on WebGPU). */
  get multiStep(): boolean {
    return this.trainingModel !== undefined && supportsMultiStep(this.manifest) && this.backend !== 'webgpu';
  }

  private multiStepSession(): Promise<Session | undefined> {
    if (!this.multiStep) return Promise.resolve(undefined);
    const m = this.trainingModel!;
    this.multi ??= Session.create(multiStepTrainingModel(m.bytes, this.manifest), m.opts);
    return this.multi;
  }

  /** Loss, model output and predictions without an update (running statistics, no dropout). */
  async runEvalStep(batch: TrainBatch): Promise<EvalResult> {
    const s = this.evaluator;
    const feeds = this.batchFeeds(s, batch);
    for (const name of s.inputNames) {
      const t = this.carried.get(name);
      if (t) feeds[name] = t;
    }
    const out = await s.run(feeds);
    // Artifacts built before the eval graph carried predictions have only loss and logits.
    const probabilities = out[TENSORS.probabilities] ?? out[TENSORS.scores];
    return {
      loss: (out[TENSORS.loss]!.data as Float32Array)[0]!,
      logits: out[TENSORS.logits]!.data as Float32Array,
      probabilities: (probabilities?.data as Float32Array | undefined) ?? new Float32Array(0),
      classes: (out[TENSORS.class]?.data as BigInt64Array | undefined) ?? new BigInt64Array(0),
      expectedClass: out[TENSORS.expectedClass]?.data as Float32Array | undefined,
    };
  }

  /** Current values of the carried tensors (views of the runtime's buffers); on WebGPU use readTensors. */
  tensors(): NamedTensor[] {
    return this.manifest.carried.map((c) => {
      const t = this.carried.get(c.name)!;
      if (t.location !== 'cpu') throw new ArtifactError(`'${c.name}' lives on the GPU (${t.location}); read it with readTensors()`);
      return { name: c.name, shape: c.shape, data: t.data as Float32Array };
    });
  }

  /** Current values of the carried tensors, downloaded from the GPU where they live there. */
  async readTensors(): Promise<NamedTensor[]> {
    return Promise.all(this.manifest.carried.map(async (c) => {
      const t = this.carried.get(c.name)!;
      return { name: c.name, shape: c.shape, data: (t.location === 'cpu' ? t.data : await t.getData()) as Float32Array };
    }));
  }

  /**
   * Puts back carried tensors read earlier (with readTensors) and the step
   * count: undoes steps that went wrong (a page's fine-tuning whose loss
   * became NaN keeps the model it had before).
   */
  restore(tensors: readonly NamedTensor[], step: number): void {
    for (const t of tensors) if (!this.carried.has(t.name)) throw new ArgumentError(`restore: '${t.name}' is not carried by this model`);
    for (const t of tensors) {
      const old = this.carried.get(t.name)!;
      if (old.location === 'gpu-buffer') old.dispose();
      this.carried.set(t.name, this.train.tensor('float32', t.data, t.shape));
    }
    this.step = step;
  }

  /** The current state as safetensors bytes, step included; on WebGPU use readCheckpoint. */
  checkpoint(extra: Record<string, string> = {}): Uint8Array {
    return checkpointBytes(this.manifest, this.tensors(), this.step, extra);
  }

  /** The current state as safetensors bytes, downloaded from the GPU where it lives there. */
  async readCheckpoint(extra: Record<string, string> = {}): Promise<Uint8Array> {
    return checkpointBytes(this.manifest, await this.readTensors(), this.step, extra);
  }

  async release(): Promise<void> {
    for (const t of this.carried.values()) if (t.location === 'gpu-buffer') t.dispose();
    const multi = await this.multi?.catch(() => undefined);
    await Promise.all([this.train.release(), this.evaluator.release(), multi?.release()]);
  }
}
