// The training driver: epochs and batches over the training-step artifact,
// learning-rate and sigma schedules (fed as inputs, never rebuilt), evaluation
// every epoch, metrics.jsonl, an atomic checkpoint every epoch, resume, and a
// NaN guard that keeps the last good checkpoint.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, parse, resolve, sep } from 'node:path';
import cliProgress from 'cli-progress';
import { buildArtifacts } from '../artifacts/build.ts';
import { FILES, bakeInference, checkpointBytes, parseCheckpoint, type Manifest } from '../artifacts/contract.ts';
import { writeFiles } from '../artifacts/files.ts';
import { lockFolder } from '../artifacts/folders.ts';
import { readImportedModel } from '../artifacts/model_file.ts';
import { gatherExamples, shuffledBatches, type Augment } from '../data/batches.ts';
import { splitDataset, type Dataset } from '../data/dataset.ts';
import { dataFingerprint } from '../data/fingerprint.ts';
import { loadData, scannedFolder, type DataOptions } from '../data/index.ts';
import type { z } from 'zod';
import { parseCheckpointHistory, parseRunConfig, type runConfigSchema } from './run_schema.ts';
import type { SameKeys } from '../validation.ts';
import { ArtifactError, DataError, LossgraphError } from '../errors.ts';
import type { Target } from '../graph/graph.ts';
import { parseLossSpec } from '../losses/compile.ts';
import { checkTargets } from '../losses/targets.ts';
import { sigmaAtEpoch } from '../losses/gaussian_kl.ts';
import { assertProvider, loadTrainingSession, readCheckpoint, readManifest } from '../runtime/node.ts';
import type { ExecutionProvider } from '../runtime/session.ts';
import { TrainingSession, type TrainBatch } from '../runtime/training.ts';
import { cacheFeatures, featuresCacheable } from './feature_cache.ts';
import { computeMetrics, multiLabelMetrics, regressionMetrics, type Metrics } from './metrics.ts';

export interface RunConfig {
  /** The --data form, e.g. 'embedded' or 'utkface:/data/UTKFace'. */
  data: string;
  dataOptions: DataOptions;
  model: string;
  loss: string;
  lossParams: Record<string, number>;
  optimizer: string;
  epochs: number;
  batch: number;
  lr: number;
  /** constant, cosine (to 0 over the run), or step (x stepGamma every stepEvery epochs). */
  lrSchedule: 'constant' | 'cosine' | 'step';
  stepEvery: number;
  stepGamma: number;
  /** Per-epoch decay of every sigma hyperparameter: sigma_e = max(sigmaMin, sigma_0 * sigmaDecay^e). */
  sigmaDecay?: number;
  /** What sigmaDecay multiplies each epoch: sigma (default) or the variance sigma^2. */
  sigmaDecayOf?: 'sigma' | 'variance';
  sigmaMin: number;
  seed: number;
  /** Pixels of random-crop padding (0: off) and random horizontal flips. */
  augment: Augment;
  ep: ExecutionProvider;
  /** Clip the global gradient norm to this before each update (PyTorch's clip_grad_norm_); inside the graph. */
  clipGradNorm?: number;
  /** The runtime the graphs are built for (see ArtifactSpec.target); by default the one `ep` names. */
  target?: Target;
  /** Class weights for ce-style terms: one per class, or 'balanced' (n / (K n_k) over the training split). */
  classWeights?: number[] | 'balanced';
  /** Importance weights of the K-1 ordinal thresholds (coral, corn). */
  importanceWeights?: number[];
  /** A trained run whose predictions are the targets (distillation), softened by the loss's temperature. */
  teacher?: string;
  /**
   * Training steps per run of the training graph (unset: DEFAULT_STEPS_PER_RUN
   * within MAX_RUN_INPUT_BYTES of batches, on either provider). Several steps per run keep the carried tensors inside
   * the runtime between them; the updates are the same as one step per run.
   */
  stepsPerRun?: number;
  /**
   * Train a frozen imported body's head on features computed once per image
   * (unset: yes, where the body cannot change: train=head, frozen batch norm, no augmentation).
   */
  featureCache?: boolean;
  /**
   * The data's fingerprint (data/fingerprint.ts), written into run.json by the
   * driver: resume and eval refuse other data under the same --data (files
   * swapped, a class added) instead of training or scoring on it.
   */
  dataFingerprint?: string;
  /**
   * ONNX Runtime's intra-op threads (unset: all cores). Part of what a run is: the
   * CPU kernels split their sums by thread, so results change (slightly) with it.
   */
  threads?: number;
}

/**
 * Steps per run on the CPU unless asked otherwise, and the most a run's
 * batches may take together. Measured on a 2-core machine (scratch A/B, runs
 * interleaved): mlp:512's step at batch 128 took ~1.55 ms at 8 steps per run
 * and ~1.37 ms at 16, against ~1.9 ms at one; CNN steps gain 5-10%. The byte
 * cap keeps a run of large images (3x224x224 at batch 64 is 38 MB a batch)
 * to one step per run.
 */
export const DEFAULT_STEPS_PER_RUN = 16;
export const MAX_RUN_INPUT_BYTES = 64 * 2 ** 20;

/**
 * The steps per run for `config`, whose batches hold `batchBytes` of input.
 * CUDA takes the same default: onnxruntime-node has no IO binding, so with one
 * step per run every parameter and optimizer state crosses host and device
 * each step. Measured on an H200 (issue 21): mlp:512 at batch 128 took
 * 0.67 ms a step at 16 steps per run against 2.16 ms at one, with the same
 * losses.
 */
export function stepsPerRunFor(config: Pick<RunConfig, 'stepsPerRun'>, batchBytes: number): number {
  const k = config.stepsPerRun ?? Math.max(1, Math.min(DEFAULT_STEPS_PER_RUN, Math.floor(MAX_RUN_INPUT_BYTES / batchBytes)));
  if (!Number.isInteger(k) || k < 1) throw new LossgraphError(`--steps-per-run must be a positive integer, got ${k}`);
  return k;
}

export const DEFAULT_CONFIG: Omit<RunConfig, 'data' | 'model' | 'loss'> = {
  dataOptions: {},
  lossParams: {},
  optimizer: 'adamw',
  epochs: 5,
  batch: 64,
  lr: 1e-3,
  lrSchedule: 'constant',
  stepEvery: 10,
  stepGamma: 0.1,
  sigmaMin: 0.5,
  seed: 0,
  augment: { crop: 0, flip: false },
  ep: 'cpu',
};

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  lr: number;
  sigma?: number;
  seconds: number;
  validation: Metrics;
}

export interface RunResult {
  out: string;
  history: EpochRecord[];
  test: Metrics;
  /** The epoch with the best validation accuracy (lowest validation loss for regression) and that accuracy. */
  best: { epoch: number; accuracy: number; loss: number };
}

/** The best epoch of a history: highest validation accuracy, or lowest validation loss where accuracy is undefined. */
export function bestEpoch(history: readonly EpochRecord[]): RunResult['best'] {
  let best = history[0]!;
  for (const h of history) {
    const better = Number.isNaN(h.validation.accuracy) ? h.validation.loss < best.validation.loss : h.validation.accuracy > best.validation.accuracy;
    if (better) best = h;
  }
  return { epoch: best.epoch, accuracy: best.validation.accuracy, loss: best.validation.loss };
}

/** Class weights n / (K n_k) from the labels of `indices` (scikit-learn's 'balanced'); a class with no example gets 0. */
export function balancedClassWeights(d: Dataset, indices: Int32Array): number[] {
  const k = d.classNames.length;
  const counts = new Array<number>(k).fill(0);
  for (const i of indices) counts[d.labels[i]!]!++;
  return counts.map((c) => (c === 0 ? 0 : indices.length / (k * c)));
}

export interface RunHooks {
  log?: (line: string) => void;
  /** Show a progress bar with ETA on stderr (when it is a terminal). */
  progress?: boolean;
  /** Set `requested` (from a SIGINT handler, say) to stop after the current run of steps with a checkpoint. */
  interrupt?: { requested: boolean };
  /** After each training step (1-based over the run): its loss, each loss term's value, the learning rate, sigma, the gradient norm. */
  onStep?: (step: number, values: StepValues) => void;
  /** After each epoch, with its record (validation metrics included). */
  onEpoch?: (record: EpochRecord) => void;
}

export interface StepValues {
  loss: number;
  terms: Record<string, number>;
  lr: number;
  sigma?: number;
  gradNorm?: number;
}

/** Training stopped on request after a step, with a checkpoint from which --resume continues exactly. */
export class Interrupted extends LossgraphError {
  override name = 'Interrupted';
  override readonly code = 'LOSSGRAPH_INTERRUPTED';
}

/** Training stopped by a numerical guard (a non-finite loss, gradient or weight); the last good checkpoint is kept. */
export class TrainingStopped extends LossgraphError {
  override readonly code = 'LOSSGRAPH_STOPPED';
}

/** Where an interrupted epoch stood, kept in the checkpoint's metadata. */
interface PartialEpoch {
  epoch: number;
  steps: number;
  lossSum: number;
}

export const RUN_FILE = 'run.json';
export const METRICS_FILE = 'metrics.jsonl';

/** The hyperparameters the sigma schedule drives: those the loss marks as such. */
function sigmaInputs(m: Manifest): { name: string; default: number }[] {
  return m.hyperparameters.filter((h) => h.schedule === 'sigma');
}

/** Checks that --sigma-decay can drive every sigma of the loss, before anything is written. */
export function checkSigmaSchedule(m: Manifest, config: RunConfig): void {
  if (config.sigmaDecay === undefined) return;
  if (!(config.sigmaDecay > 0 && config.sigmaDecay <= 1)) throw new LossgraphError(`--sigma-decay must be in (0, 1], got ${config.sigmaDecay}`);
  if (!(config.sigmaMin > 0) || !Number.isFinite(config.sigmaMin)) {
    throw new LossgraphError(`--sigma-min must be > 0 (sigma is a standard deviation; the loss is defined for sigma > 0), got ${config.sigmaMin}`);
  }
  const unreachable = (m.unscheduled ?? []).filter((u) => u.schedule === 'sigma');
  if (unreachable.length) {
    throw new LossgraphError(`--sigma-decay cannot drive ${unreachable[0]!.where}: give sigma as a number or as one parameter used nowhere else, e.g. gaussian_kl(sigma=2)`);
  }
  if (sigmaInputs(m).length === 0) throw new LossgraphError(`--sigma-decay needs a loss with a sigma (gaussian_kl); '${m.spec.loss}' has none`);
}

/** Feeds every sigma its value for `epoch` under the run's decay; returns it (undefined without decay). */
export function applySigmaSchedule(session: TrainingSession, config: RunConfig, epoch: number): number | undefined {
  if (config.sigmaDecay === undefined) return undefined;
  let sigma: number | undefined;
  for (const s of sigmaInputs(session.manifest)) {
    sigma = sigmaAtEpoch(epoch, { sigma0: s.default, gamma: config.sigmaDecay, sigmaMin: config.sigmaMin, of: config.sigmaDecayOf });
    session.setHyperparameter(s.name, sigma);
  }
  return sigma;
}

export function learningRate(c: RunConfig, epoch: number, step: number, stepsPerEpoch: number): number {
  if (c.lrSchedule === 'cosine') return 0.5 * c.lr * (1 + Math.cos((Math.PI * step) / (c.epochs * stepsPerEpoch)));
  if (c.lrSchedule === 'step') return c.lr * c.stepGamma ** Math.floor(epoch / c.stepEvery);
  return c.lr;
}

/**
 * Targets for batches when the loss needs them and the data has none: a
 * teacher run's predictions, softened by the loss's temperature. The teacher's
 * outputs on the un-augmented examples are computed once, for the whole data
 * set; augmented training batches are passed through the teacher as they come.
 */
export class TeacherTargets {
  private constructor(
    private readonly teacher: TrainingSession,
    private readonly cache: Float32Array,
    private readonly classes: number,
    readonly temperature: number,
  ) {}

  static async create(dir: string, student: Manifest, d: Dataset, ep: ExecutionProvider, threads?: number): Promise<TeacherTargets> {
    const teacher = await loadTrainingSession(dir, { ep, threads });
    const tm = teacher.manifest;
    const refuse = (why: string): never => {
      void teacher.release();
      throw new LossgraphError(`--teacher ${dir}: ${why}`);
    };
    if (tm.head !== 'logits') refuse(`its model outputs ${tm.head}, not class logits`);
    if (tm.spec.classes !== student.spec.classes) refuse(`it has ${tm.spec.classes} classes, the data has ${student.spec.classes}`);
    if (tm.spec.input.join('x') !== student.spec.input.join('x')) refuse(`it takes ${tm.spec.input.join('x')} inputs, the data has ${student.spec.input.join('x')}`);
    if (tm.graphs.eval.inputs.some((i) => i.name === 'targets')) refuse('it was itself trained on targets; distil from a run trained on labels');
    const temps = [...new Set(student.hyperparameters.filter((h) => h.role === 'temperature').map((h) => h.default))];
    if (temps.length > 1) refuse(`the loss has several temperatures (${temps.join(', ')}); use one`);
    const k = tm.spec.classes;
    const all = Int32Array.from({ length: d.count }, (_, i) => i);
    const cache = new Float32Array(d.count * k);
    const t = new TeacherTargets(teacher, cache, k, temps[0] ?? 1);
    for (let start = 0; start < d.count; start += 256) {
      const part = all.subarray(start, Math.min(start + 256, d.count));
      cache.set(await t.soften(gatherExamples(d, part)), start * k);
    }
    return t;
  }

  /** softmax(teacher logits / T) for a batch, [B, K]. */
  private async soften(b: TrainBatch): Promise<Float32Array> {
    const { logits } = await this.teacher.runEvalStep({ images: b.images, labels: b.labels });
    const k = this.classes;
    const out = new Float32Array(logits.length);
    for (let i = 0; i < logits.length; i += k) {
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, logits[i + c]! / this.temperature);
      let sum = 0;
      for (let c = 0; c < k; c++) sum += (out[i + c] = Math.exp(logits[i + c]! / this.temperature - max));
      for (let c = 0; c < k; c++) out[i + c]! /= sum;
    }
    return out;
  }

  /** The batch with its targets: cached for un-augmented examples, computed for augmented ones. */
  async attach(b: TrainBatch, augmented: boolean): Promise<TrainBatch> {
    if (augmented) return { ...b, targets: await this.soften(b) };
    const k = this.classes;
    const targets = new Float32Array(b.labels.length * k);
    b.indices!.forEach((ex, i) => targets.set(this.cache.subarray(ex * k, (ex + 1) * k), i * k));
    return { ...b, targets };
  }

  release(): Promise<void> {
    return this.teacher.release();
  }
}

/** Loss and metrics on `indices`, from the eval graph's loss and prediction outputs (the inference graph's rules). */
export async function evaluate(session: TrainingSession, d: Dataset, indices: Int32Array, batch: number, teacher?: TeacherTargets): Promise<Metrics> {
  const m = session.manifest;
  const k = m.spec.classes;
  const classes = new Int32Array(indices.length);
  const scores = new Float32Array(indices.length * k);
  const outputs = new Float32Array(indices.length * k);
  const expected = m.ordinal ? new Float32Array(indices.length) : undefined;
  let lossSum = 0;
  for (let start = 0; start < indices.length; start += batch) {
    const part = indices.subarray(start, Math.min(start + batch, indices.length));
    let b = gatherExamples(d, part);
    if (teacher) b = await teacher.attach(b, false);
    const ev = await session.runEvalStep(b);
    if (ev.classes.length !== part.length) throw new LossgraphError(`${m.spec.model}: these artifacts predate prediction outputs in the eval graph; rebuild them`);
    lossSum += ev.loss * part.length;
    if (d.task === 'regression') outputs.set(ev.logits, start * k);
    classes.set(Array.from(ev.classes, Number), start);
    scores.set(ev.probabilities, start * k);
    if (expected) expected.set(ev.expectedClass!, start);
  }
  const loss = lossSum / indices.length;
  if (d.task === 'multilabel' || d.task === 'regression') {
    const targets = new Float32Array(indices.length * k);
    indices.forEach((ex, i) => targets.set(d.targets!.subarray(ex * k, (ex + 1) * k), i * k));
    return d.task === 'multilabel' ? multiLabelMetrics(loss, targets, scores, k) : regressionMetrics(loss, targets, outputs);
  }
  const labels = Int32Array.from(indices, (i) => d.labels[i]!);
  return computeMetrics(loss, labels, { classes, scores, expected }, {
    classes: k,
    ordinal: d.ordinal,
    ordered: m.ordinal,
    hierarchy: d.hierarchy,
  });
}

function writeJsonl(out: string, history: readonly EpochRecord[]): void {
  writeFiles(out, { [METRICS_FILE]: new TextEncoder().encode(history.map((h) => JSON.stringify(h)).join('\n') + '\n') });
}

/**
 * Trains `config` into the folder `out`, or continues the run there when
 * `resume` is set (the data order, dropout masks and schedules repeat, so the
 * result is the same as an uninterrupted run).
 */
export async function runTraining(config: RunConfig, out: string, hooks: RunHooks = {}, opts: { resume?: boolean; data?: Dataset; force?: boolean } = {}): Promise<RunResult> {
  const log = hooks.log ?? (() => {});
  assertProvider(config.ep);
  if (!opts.resume) checkOutFolder(out, opts.force ?? false, config.data);
  const data = opts.data ?? (await loadData(config.data, config.dataOptions));
  if (data.skipped) log(`skipped ${data.skipped} bad file(s) in ${data.source}`);
  if (opts.resume) checkSameData(config, data, out);
  // Said in terms of the data: train has no --classes or --input for the build's checks to name.
  if (data.count === 0) throw new DataError(`--data ${config.data} holds no examples`);
  if (data.classNames.length < 2) throw new DataError(`--data ${config.data} has ${data.classNames.length} class${data.classNames.length === 1 ? '' : 'es'}; a classifier needs at least 2`);
  const splits = splitDataset(data, config.seed);
  // Everything is checked before anything is written, so a bad invocation leaves no run folder behind.
  if (config.classWeights === 'balanced' && data.task && data.task !== 'classification') {
    throw new LossgraphError(`--class-weights balanced needs single-label data; --data ${config.data} is ${data.task}`);
  }
  const imported = readImportedModel(config.model);
  // Parsed once per run; the parsed spec goes to the build and the checks below.
  const spec = parseLossSpec(config.loss);
  const built = opts.resume ? undefined : buildArtifacts({
    model: config.model,
    loss: config.loss,
    classes: data.classNames.length,
    input: data.shape,
    optimizer: config.optimizer,
    seed: config.seed,
    lossParams: config.lossParams,
    hierarchy: data.hierarchy,
    classWeights: config.classWeights === 'balanced' ? balancedClassWeights(data, splits.train) : config.classWeights,
    importanceWeights: config.importanceWeights,
    targets: data.targets !== undefined,
    clipGradNorm: config.clipGradNorm,
    // --ep cuda builds the CUDA forms unless a target is asked for.
    target: config.target ?? (config.ep === 'cuda' ? 'cuda' : undefined),
  }, imported, spec);
  const manifest = built?.manifest ?? readManifest(out);
  const readsTargets = spec.needs.has('targets');
  if (config.teacher && data.targets) throw new LossgraphError(`--teacher: --data ${config.data} has targets of its own; distil on single-label data`);
  if (config.teacher && !readsTargets) throw new LossgraphError(`--teacher: loss '${config.loss}' reads no targets; add a kl term, e.g. '0.5*ce + 0.5*kl(T=4)'`);
  if (readsTargets && !data.targets && !config.teacher) {
    throw new LossgraphError(`loss '${config.loss}' needs targets, which --data ${config.data} does not provide (multi-label or regression columns, or --teacher RUN for soft targets)`);
  }
  if (data.targets && readsTargets) checkTargets(spec, data.targets, data.targets.length / data.labels.length, (r) => `--data ${config.data}: example ${r + 1}`);
  if (data.task === 'regression' && spec.labelTerms.length) {
    throw new LossgraphError(`--data ${config.data} has regression targets, which '${spec.labelTerms[0]}' does not read; train it with a loss that reads them, e.g. 'mse(input=raw)'`);
  }
  if (data.task === 'multilabel' && spec.labelTerms.length) {
    throw new LossgraphError(`--data ${config.data} is multi-label, but '${spec.labelTerms[0]}' reads one label per example; use terms that read the label sets, e.g. bce or minmax(labels=multi)`);
  }
  checkSigmaSchedule(manifest, config);
  const stepsPerEpoch = Math.floor(splits.train.length / config.batch);
  if (stepsPerEpoch === 0) throw new LossgraphError(`--batch ${config.batch} is larger than the ${splits.train.length} training examples`);
  const teacher = config.teacher ? await TeacherTargets.create(config.teacher, manifest, data, config.ep, config.threads) : undefined;
  const augmented = config.augment.crop > 0 || config.augment.flip;
  // A frozen imported body's features are computed once; the head trains on them (feature_cache.ts).
  const cached = config.featureCache !== false && featuresCacheable(imported, augmented)
    ? await cacheFeatures(data, manifest, imported, spec, { ep: config.ep, threads: config.threads })
    : undefined;
  if (cached) log(`the frozen body's features of ${data.count} images computed once (${cached.seconds.toFixed(1)} s, ${cached.imagesPerSecond.toFixed(0)} images/s); the head trains on them`);
  // What the training session reads: the images, or their cached features.
  const view = cached?.data ?? data;
  const stepsPerRun = stepsPerRunFor(config, 4 * config.batch * view.shape.reduce((a, b) => a * b, 1));
  let session: TrainingSession;
  let history: EpochRecord[] = [];
  let partial: PartialEpoch | undefined;
  // One process writes a run folder at a time: a second train (or resume) on it is refused, not interleaved.
  const unlock = lockFolder(out, 'train');
  try {
    if (built) {
      writeFiles(out, { ...built.files, [RUN_FILE]: new TextEncoder().encode(`${JSON.stringify({ ...config, dataFingerprint: dataFingerprint(data) }, null, 2)}\n`) });
      writeJsonl(out, []);
    }
    const checkpoint = built ? parseCheckpoint(built.files[FILES.checkpoint]!, FILES.checkpoint, manifest) : readCheckpoint(join(out, FILES.checkpoint), manifest);
    // Checked by schema: garbage in a hand-edited checkpoint's history is one line, not an internal error.
    ({ history, partial } = parseCheckpointHistory(checkpoint.metadata, built ? FILES.checkpoint : join(out, FILES.checkpoint)) as unknown as { history: EpochRecord[]; partial?: PartialEpoch });
    const sessionOpts = { ep: config.ep, threads: config.threads };
    session = cached
      ? await TrainingSession.open(cached.head.manifest, cached.head.files[FILES.training]!, cached.head.files[FILES.eval]!, checkpoint, sessionOpts)
      : await TrainingSession.open(manifest, built?.files[FILES.training] ?? readFileSync(join(out, FILES.training)), built?.files[FILES.eval] ?? readFileSync(join(out, FILES.eval)), checkpoint, sessionOpts);
  } catch (e) {
    unlock();
    throw e;
  }
  // The checkpoint on disk is always the last good one: it is written only after a finished, finite epoch.
  const stopped = (what: string) => new TrainingStopped(
    `${what}; training stopped. ${history.length ? `The last good checkpoint (epoch ${history.length}) is ${join(out, FILES.checkpoint)}` : 'No epoch had finished, so the checkpoint is the initial one'}; try a lower --lr`,
  );
  const bar = hooks.progress && process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: 'epoch {epoch} [{bar}] {percentage}% | ETA {eta_formatted} | loss {loss}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined;
  try {
    for (let epoch = history.length; epoch < config.epochs; epoch++) {
      const t0 = performance.now();
      const sigma = applySigmaSchedule(session, config, epoch);
      // An epoch interrupted by Ctrl-C goes on from the step after the checkpoint.
      const resumeAt = partial?.epoch === epoch ? partial : undefined;
      partial = undefined;
      let lossSum = resumeAt?.lossSum ?? 0;
      let lr = config.lr;
      let s = 0;
      bar?.start(stepsPerEpoch, resumeAt?.steps ?? 0, { epoch: epoch + 1, loss: '-' });
      // Batches wait here until a run's worth (stepsPerRun) is drawn; an epoch's last run may be shorter.
      let pending: TrainBatch[] = [];
      let rates: number[] = [];
      const runPending = async () => {
        const results = await session.runTrainSteps(pending, rates);
        for (const [i, { loss, terms, gradNorm }] of results.entries()) {
          const where = `at epoch ${epoch + 1}, step ${s + 1}${Object.keys(terms).length ? ` (${Object.entries(terms).map(([t, v]) => `${t} = ${v}`).join(', ')})` : ''}`;
          if (!Number.isFinite(loss)) throw stopped(`the loss became ${loss} ${where}`);
          if (gradNorm !== undefined && !Number.isFinite(gradNorm)) throw stopped(`the gradient norm became ${gradNorm} ${where}`);
          lossSum += loss;
          s++;
          hooks.onStep?.(epoch * stepsPerEpoch + s, { loss, terms, lr: rates[i]!, sigma, gradNorm });
        }
        lr = rates[rates.length - 1]!;
        pending = [];
        rates = [];
        bar?.update(s, { loss: (lossSum / s).toFixed(4) });
        if (hooks.interrupt?.requested && s < stepsPerEpoch) {
          bar?.stop();
          const at: PartialEpoch = { epoch, steps: s, lossSum };
          writeFiles(out, { [FILES.checkpoint]: checkpointBytes(manifest, session.tensors(), session.step, { epoch: String(epoch), history: JSON.stringify(history), partial: JSON.stringify(at) }) });
          throw new Interrupted(`interrupted at epoch ${epoch + 1}, step ${s} of ${stepsPerEpoch}; the checkpoint is saved: continue with lossgraph train --resume ${out}`);
        }
      };
      // The order and the augmentation depend on (seed, epoch) only, so a resumed epoch repeats exactly.
      for (const batch of shuffledBatches(view, splits.train, config.batch, config.seed * 7919 + epoch, config.augment)) {
        if (resumeAt && s < resumeAt.steps) {
          s++; // drawn, so the augmentation stream stays in step, but already trained on
          continue;
        }
        rates.push(learningRate(config, epoch, epoch * stepsPerEpoch + s + pending.length, stepsPerEpoch));
        pending.push(teacher ? await teacher.attach(batch, augmented) : batch);
        if (pending.length === stepsPerRun) await runPending();
      }
      if (pending.length) await runPending();
      bar?.stop();
      // The last step's update could itself have produced non-finite weights: never checkpoint those.
      const broken = session.tensors().find((t) => !t.data.every(Number.isFinite));
      if (broken) throw stopped(`'${broken.name}' became non-finite during epoch ${epoch + 1}`);
      const validation = await evaluate(session, view, splits.validation, 256, teacher);
      const record: EpochRecord = { epoch: epoch + 1, trainLoss: lossSum / stepsPerEpoch, lr, sigma, seconds: (performance.now() - t0) / 1000, validation: { ...validation, confusion: [] } };
      history.push(record);
      hooks.onEpoch?.(record);
      writeFiles(out, { [FILES.checkpoint]: checkpointBytes(manifest, session.tensors(), session.step, { epoch: String(epoch + 1), history: JSON.stringify(history) }) });
      writeJsonl(out, history);
      const score = validation.regressionMse !== undefined ? `MSE ${validation.regressionMse.toFixed(4)}` : `${data.task === 'multilabel' ? 'exact-match accuracy' : 'accuracy'} ${(100 * validation.accuracy).toFixed(2)}%`;
      log(`epoch ${epoch + 1}/${config.epochs}: train loss ${record.trainLoss.toFixed(4)}, validation loss ${validation.loss.toFixed(4)}, ${score}${validation.mae !== undefined ? `, MAE ${validation.mae.toFixed(3)}` : ''}${validation.mAP !== undefined ? `, mAP ${validation.mAP.toFixed(3)}` : ''} (${record.seconds.toFixed(1)} s)`);
    }
    const test = await evaluate(session, view, splits.test, 256, teacher);
    // The inference model is baked once, at the end: the trained weights copied into its initializers.
    const untrained = built?.files[FILES.inference] ?? readFileSync(join(out, FILES.inference));
    writeFiles(out, { [FILES.inference]: bakeInference(untrained, session.tensors()) });
    return { out, history, test, best: bestEpoch(history) };
  } finally {
    bar?.stop();
    await session.release();
    await teacher?.release();
    unlock();
  }
}

/** Refuses data whose fingerprint differs from the one the run was started on (runs from before fingerprints pass). */
export function checkSameData(config: RunConfig, data: Dataset, run: string): void {
  if (config.dataFingerprint === undefined) return;
  const now = dataFingerprint(data);
  if (now !== config.dataFingerprint) {
    throw new DataError(`--data ${config.data} is not the data ${run} was trained on (now ${data.count} examples, ${data.classNames.length} classes, fingerprint ${now.slice(0, 12)}; the run's fingerprint ${config.dataFingerprint.slice(0, 12)}): were files changed, added or removed?`);
  }
}

/**
 * Where an --out (a run's or a grid's) may not be: the file system's root, or
 * inside a folder that --data scans for examples (its own resume and eval would
 * read the run as data).
 */
export function checkOutPlace(out: string, data?: string): void {
  const full = resolve(out);
  if (full === parse(full).root) throw new ArtifactError(`--out ${out} is the file system's root; name a folder for the results, e.g. --out runs/first`);
  const scanned = data === undefined ? undefined : scannedFolder(data);
  if (scanned !== undefined && (full === resolve(scanned) || full.startsWith(resolve(scanned) + sep))) {
    throw new ArtifactError(`--out ${out} lies inside the data folder ${scanned}, whose subfolders are read as data; put the results elsewhere`);
  }
}

/**
 * A new run's --out: its parent must exist and be a folder (a typo is not
 * silently created), and it must not hold another run unless `force`.
 */
export function checkOutFolder(out: string, force: boolean, data?: string): void {
  checkOutPlace(out, data);
  const parent = dirname(resolve(out));
  if (!existsSync(parent)) throw new ArtifactError(`--out ${out}: the folder ${parent} does not exist; create it first`);
  if (!statSync(parent).isDirectory()) throw new ArtifactError(`--out ${out}: ${parent} is a file, not a folder`);
  if (existsSync(out) && !statSync(out).isDirectory()) throw new ArtifactError(`--out ${out} is a file, not a folder`);
  if (!force && existsSync(join(out, RUN_FILE))) {
    let what = '';
    try {
      const c = JSON.parse(readFileSync(join(out, RUN_FILE), 'utf8')) as RunConfig;
      what = ` (model ${c.model}, loss '${c.loss}', seed ${c.seed})`;
    } catch {
      // a damaged run.json still marks a run folder
    }
    throw new ArtifactError(`--out ${out} already holds a run${what}; continue it with --resume ${out}, choose another folder, or replace it with --force`);
  }
}

/** The configuration a run folder was started with. */
export function readRunConfig(out: string): RunConfig {
  const path = join(out, RUN_FILE);
  if (!existsSync(path)) throw new LossgraphError(`${out}: no ${RUN_FILE}; is this a lossgraph train output folder?`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ArtifactError(`${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseRunConfig(text, path) as RunConfig;
}

// run_schema.ts's schema and RunConfig name the same fields: one added to either and not the other fails to compile.
const runFieldsMatch: SameKeys<z.infer<typeof runConfigSchema>, RunConfig> = true;
void runFieldsMatch;
