// Runs the artifacts of `lossgraph build`. The training graph is a pure
// function of its inputs: every tensor carried between steps (parameters,
// running statistics, optimizer state) goes in as `X` and comes back as
// `X.updated`, and the session keeps those outputs as runtime tensors for the
// next step, so nothing is copied element by element in JavaScript.
//
// Method names follow ONNX Runtime's TrainingSession where they fit
// (runTrainStep, runEvalStep); there is no separate optimizer step or
// gradient reset because one run already applies the update.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILES, checkpointBytes, type BuiltArtifacts, type Manifest } from '../artifacts/build.ts';
import { decodeSafetensors, type NamedTensor } from '../artifacts/safetensors.ts';
import { LossgraphError } from '../errors.ts';
import { describeRange, inRange } from '../ranges.ts';
import { Session, type OrtTensor, type SessionOptions } from './session.ts';

export interface TrainBatch {
  /** [B, C, H, W] images, row-major. */
  images: Float32Array;
  labels: BigInt64Array;
  /** [B, K] soft, multi-hot or regression targets, for losses that need them. */
  targets?: Float32Array;
  /** Which examples of the data set the batch holds (for per-example caches such as a teacher's outputs). */
  indices?: Int32Array;
}

export interface LoadedCheckpoint {
  tensors: Map<string, Float32Array>;
  step: number;
  metadata: Record<string, string>;
}

/** Reads a checkpoint file and checks it holds exactly the tensors `manifest` carries. */
export function readCheckpoint(path: string, manifest: Manifest): LoadedCheckpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new LossgraphError(`${path}: cannot read the checkpoint`);
  }
  return parseCheckpoint(bytes, path, manifest);
}

/** Decodes checkpoint bytes (`path` names them in errors) and checks them against `manifest`. */
export function parseCheckpoint(bytes: Uint8Array, path: string, manifest: Manifest): LoadedCheckpoint {
  const file = decodeSafetensors(bytes, path);
  const meta = file.metadata;
  const saved = `model '${meta.model ?? '?'}', loss '${meta.loss ?? '?'}', ${meta.classes ?? '?'} classes, input ${meta.input ?? '?'}`;
  const wanted = `model '${manifest.spec.model}', loss '${manifest.spec.loss}', ${manifest.spec.classes} classes, input ${manifest.spec.input.join('x')}`;
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const mismatch = (detail: string): never => {
    throw new LossgraphError(`${path} was saved for ${saved}, not for these artifacts (${wanted}): ${detail}`);
  };
  if (meta.format !== 'lossgraph-checkpoint/1') mismatch('it is not a lossgraph checkpoint');
  for (const c of manifest.carried) {
    const t = byName.get(c.name);
    if (!t) mismatch(`tensor '${c.name}' is missing`);
    if (t!.shape.join(',') !== c.shape.join(',')) mismatch(`tensor '${c.name}' has shape [${t!.shape}], expected [${c.shape}]`);
  }
  const extra = file.tensors.find((t) => !manifest.carried.some((c) => c.name === t.name));
  if (extra) mismatch(`it holds a tensor '${extra.name}' these artifacts do not have`);
  const step = Number(meta.step ?? '0');
  if (!Number.isInteger(step) || step < 0) mismatch(`its step '${meta.step}' is not a count`);
  return { tensors: new Map(file.tensors.map((t) => [t.name, t.data])), step, metadata: meta };
}

export function readManifest(dir: string): Manifest {
  const path = join(dir, FILES.manifest);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new LossgraphError(`${dir}: no ${FILES.manifest} (build the artifacts with lossgraph build)`);
  }
  try {
    const m = JSON.parse(text) as Manifest;
    if (m.format !== 'lossgraph-artifacts/1') throw new Error('format');
    return m;
  } catch {
    throw new LossgraphError(`${path}: not a lossgraph manifest`);
  }
}

export class TrainingSession {
  /** Steps taken so far (the next step is number step + 1). */
  step: number;
  private carried = new Map<string, OrtTensor>();
  private readonly hyper = new Map<string, OrtTensor>();
  private readonly trainFetches: string[];
  private readonly batchShape: number[];

  private constructor(
    readonly manifest: Manifest,
    readonly train: Session,
    readonly evaluator: Session,
    checkpoint: LoadedCheckpoint,
  ) {
    this.step = checkpoint.step;
    for (const c of manifest.carried) this.carried.set(c.name, train.tensor('float32', checkpoint.tensors.get(c.name)!, c.shape));
    for (const h of manifest.hyperparameters) this.setHyperparameter(h.name, h.default);
    this.trainFetches = ['loss', ...manifest.carried.map((c) => `${c.name}.updated`)];
    this.batchShape = manifest.spec.input;
  }

  /** Opens an artifact folder; `checkpoint` defaults to the folder's own. */
  static async load(dir: string, opts: SessionOptions & { checkpoint?: string } = {}): Promise<TrainingSession> {
    const manifest = readManifest(dir);
    const ckpt = readCheckpoint(opts.checkpoint ?? join(dir, manifest.checkpoint), manifest);
    return TrainingSession.open(manifest, join(dir, FILES.training), join(dir, FILES.eval), ckpt, opts);
  }

  /** Opens artifacts built in memory by `buildArtifacts`, from their initial checkpoint. */
  static async fromBuilt(built: BuiltArtifacts, opts: SessionOptions = {}): Promise<TrainingSession> {
    const ckpt = parseCheckpoint(built.files[FILES.checkpoint]!, FILES.checkpoint, built.manifest);
    return TrainingSession.open(built.manifest, built.files[FILES.training]!, built.files[FILES.eval]!, ckpt, opts);
  }

  /** Opens a training and an eval graph with the given checkpoint. */
  static async open(manifest: Manifest, training: Uint8Array | string, evaluation: Uint8Array | string, checkpoint: LoadedCheckpoint, opts: SessionOptions = {}) {
    const [train, evaluator] = await Promise.all([Session.create(training, opts), Session.create(evaluation, opts)]);
    return new TrainingSession(manifest, train, evaluator, checkpoint);
  }

  /** Changes a loss hyperparameter from the next step on (sigma's per-epoch decay, say); no rebuild. */
  setHyperparameter(name: string, value: number): void {
    const h = this.manifest.hyperparameters.find((x) => x.name === name);
    if (!h) {
      throw new LossgraphError(`no hyperparameter '${name}'; this loss has: ${this.manifest.hyperparameters.map((x) => x.name).join(', ') || 'none'}`);
    }
    if (!inRange(value, h.range)) {
      throw new LossgraphError(`hyperparameter '${name}' cannot be ${value}; it must be ${h.range ? describeRange(h.range) : 'a finite number'}`);
    }
    this.hyper.set(name, this.train.tensor('float32', new Float32Array([value]), []));
  }

  private batchFeeds(s: Session, b: TrainBatch): Record<string, OrtTensor> {
    const n = b.labels.length;
    const feeds: Record<string, OrtTensor> = {
      input: s.tensor('float32', b.images, [n, ...this.batchShape]),
      labels: s.tensor('int64', b.labels, [n]),
    };
    if (s.inputNames.includes('targets')) {
      if (!b.targets) throw new LossgraphError(`loss '${this.manifest.spec.loss}' needs targets with every batch`);
      feeds.targets = s.tensor('float32', b.targets, [n, this.manifest.spec.classes]);
    }
    for (const [name, t] of this.hyper) feeds[name] = t;
    return feeds;
  }

  /** One step (forward, loss, backward, update) at learning rate `lr`; returns the loss before the update. */
  async runTrainStep(batch: TrainBatch, lr: number): Promise<number> {
    const s = this.train;
    const feeds = this.batchFeeds(s, batch);
    feeds.lr = s.tensor('float32', new Float32Array([lr]), []);
    feeds.step = s.tensor('int64', new BigInt64Array([BigInt(this.step + 1)]), []);
    feeds.seed = s.tensor('int64', new BigInt64Array([BigInt(this.manifest.spec.seed)]), []);
    for (const [name, t] of this.carried) feeds[name] = t;
    const out = await s.run(feeds, this.trainFetches);
    for (const name of this.carried.keys()) this.carried.set(name, out[`${name}.updated`]!);
    this.step++;
    return (out['loss']!.data as Float32Array)[0]!;
  }

  /** Loss and logits without an update (running statistics, no dropout). */
  async runEvalStep(batch: TrainBatch): Promise<{ loss: number; logits: Float32Array }> {
    const s = this.evaluator;
    const feeds = this.batchFeeds(s, batch);
    for (const name of s.inputNames) {
      const t = this.carried.get(name);
      if (t) feeds[name] = t;
    }
    const out = await s.run(feeds, ['loss', 'logits']);
    return { loss: (out['loss']!.data as Float32Array)[0]!, logits: out['logits']!.data as Float32Array };
  }

  /** Current values of the carried tensors (views of the runtime's buffers). */
  tensors(): NamedTensor[] {
    return this.manifest.carried.map((c) => ({ name: c.name, shape: c.shape, data: this.carried.get(c.name)!.data as Float32Array }));
  }

  /** The current state as safetensors bytes, step included. */
  checkpoint(extra: Record<string, string> = {}): Uint8Array {
    return checkpointBytes(this.manifest, this.tensors(), this.step, extra);
  }

  async release(): Promise<void> {
    await Promise.all([this.train.release(), this.evaluator.release()]);
  }
}
