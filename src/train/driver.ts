// The training driver: epochs and batches over the training-step artifact,
// learning-rate and sigma schedules (fed as inputs, never rebuilt), evaluation
// every epoch, metrics.jsonl, an atomic checkpoint every epoch, resume, and a
// NaN guard that keeps the last good checkpoint.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { FILES, buildArtifacts, exportInference, writeFiles, type Manifest } from '../artifacts/build.ts';
import { gatherExamples, shuffledBatches, type Augment } from '../data/batches.ts';
import { splitDataset, type Dataset } from '../data/dataset.ts';
import { loadData, type DataOptions } from '../data/index.ts';
import { LossgraphError } from '../errors.ts';
import { sigmaAtEpoch } from '../losses/gaussian_kl.ts';
import { Session, type ExecutionProvider } from '../runtime/session.ts';
import { TrainingSession, readCheckpoint, readManifest } from '../runtime/training.ts';
import { computeMetrics, type Metrics } from './metrics.ts';

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
}

export interface RunHooks {
  log?: (line: string) => void;
  /** Show a progress bar with ETA on stderr (when it is a terminal). */
  progress?: boolean;
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

/** Loss and metrics on `indices`: loss from the eval graph, predictions from the inference graph. */
export async function evaluate(session: TrainingSession, d: Dataset, indices: Int32Array, batch: number): Promise<Metrics> {
  const m = session.manifest;
  const inference = await Session.create(exportInference(m, session.tensors()), { ep: session.train.ep });
  const k = m.spec.classes;
  const classes = new Int32Array(indices.length);
  const scores = new Float32Array(indices.length * k);
  const expected = m.ordinal ? new Float32Array(indices.length) : undefined;
  let lossSum = 0;
  for (let start = 0; start < indices.length; start += batch) {
    const part = indices.subarray(start, Math.min(start + batch, indices.length));
    const b = gatherExamples(d, part);
    lossSum += (await session.runEvalStep(b)).loss * part.length;
    const out = await inference.run({ input: inference.tensor('float32', b.images, [part.length, ...d.shape]) });
    classes.set(Array.from(out['class']!.data as BigInt64Array, Number), start);
    scores.set((out['probabilities'] ?? out['scores'])!.data as Float32Array, start * k);
    if (expected) expected.set(out['expected_class']!.data as Float32Array, start);
  }
  await inference.release();
  const labels = Int32Array.from(indices, (i) => d.labels[i]!);
  return computeMetrics(lossSum / indices.length, labels, { classes, scores, expected }, {
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
export async function runTraining(config: RunConfig, out: string, hooks: RunHooks = {}, opts: { resume?: boolean; data?: Dataset } = {}): Promise<RunResult> {
  const log = hooks.log ?? (() => {});
  const data = opts.data ?? (await loadData(config.data, config.dataOptions));
  if (data.skipped) log(`skipped ${data.skipped} bad file(s) in ${data.source}`);
  const splits = splitDataset(data, config.seed);
  // Everything is checked before anything is written, so a bad invocation leaves no run folder behind.
  const built = opts.resume ? undefined : buildArtifacts({
    model: config.model,
    loss: config.loss,
    classes: data.classNames.length,
    input: data.shape,
    optimizer: config.optimizer,
    seed: config.seed,
    lossParams: config.lossParams,
    hierarchy: data.hierarchy,
  });
  const manifest = built?.manifest ?? readManifest(out);
  if (manifest.graphs.training.inputs.some((i) => i.name === 'targets')) {
    throw new LossgraphError(`loss '${config.loss}' needs soft or multi-hot targets, which --data ${config.data} does not provide`);
  }
  checkSigmaSchedule(manifest, config);
  const stepsPerEpoch = Math.floor(splits.train.length / config.batch);
  if (stepsPerEpoch === 0) throw new LossgraphError(`--batch ${config.batch} is larger than the ${splits.train.length} training examples`);

  let session: TrainingSession;
  let history: EpochRecord[] = [];
  if (built) {
    writeFiles(out, { ...built.files, [RUN_FILE]: new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`) });
    writeJsonl(out, []);
    session = await TrainingSession.fromBuilt(built, { ep: config.ep });
  } else {
    const checkpoint = readCheckpoint(join(out, FILES.checkpoint), manifest);
    history = JSON.parse(checkpoint.metadata.history ?? '[]') as EpochRecord[];
    session = await TrainingSession.open(manifest, join(out, FILES.training), join(out, FILES.eval), checkpoint, { ep: config.ep });
  }
  // The checkpoint on disk is always the last good one: it is written only after a finished, finite epoch.
  const stopped = (what: string) => new LossgraphError(
    `${what}; training stopped. ${history.length ? `The last good checkpoint (epoch ${history.length}) is ${join(out, FILES.checkpoint)}` : 'No epoch had finished, so the checkpoint is the initial one'}; try a lower --lr`,
  );
  const bar = hooks.progress && process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: 'epoch {epoch} [{bar}] {percentage}% | ETA {eta_formatted} | loss {loss}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined;
  try {
    for (let epoch = history.length; epoch < config.epochs; epoch++) {
      const t0 = performance.now();
      const sigma = applySigmaSchedule(session, config, epoch);
      let lossSum = 0;
      let lr = config.lr;
      let s = 0;
      bar?.start(stepsPerEpoch, 0, { epoch: epoch + 1, loss: '-' });
      // The order and the augmentation depend on (seed, epoch) only, so a resumed epoch repeats exactly.
      for (const batch of shuffledBatches(data, splits.train, config.batch, config.seed * 7919 + epoch, config.augment)) {
        lr = learningRate(config, epoch, epoch * stepsPerEpoch + s, stepsPerEpoch);
        const loss = await session.runTrainStep(batch, lr);
        if (!Number.isFinite(loss)) throw stopped(`the loss became ${loss} at epoch ${epoch + 1}, step ${s + 1}`);
        lossSum += loss;
        s++;
        bar?.update(s, { loss: (lossSum / s).toFixed(4) });
      }
      bar?.stop();
      // The last step's update could itself have produced non-finite weights: never checkpoint those.
      const broken = session.tensors().find((t) => !t.data.every(Number.isFinite));
      if (broken) throw stopped(`'${broken.name}' became non-finite during epoch ${epoch + 1}`);
      const validation = await evaluate(session, data, splits.validation, 256);
      const record: EpochRecord = { epoch: epoch + 1, trainLoss: lossSum / stepsPerEpoch, lr, sigma, seconds: (performance.now() - t0) / 1000, validation: { ...validation, confusion: [] } };
      history.push(record);
      writeFiles(out, { [FILES.checkpoint]: session.checkpoint({ epoch: String(epoch + 1), history: JSON.stringify(history) }) });
      writeJsonl(out, history);
      log(`epoch ${epoch + 1}/${config.epochs}: train loss ${record.trainLoss.toFixed(4)}, validation loss ${validation.loss.toFixed(4)}, accuracy ${(100 * validation.accuracy).toFixed(2)}%${validation.mae !== undefined ? `, MAE ${validation.mae.toFixed(3)}` : ''} (${record.seconds.toFixed(1)} s)`);
    }
    const test = await evaluate(session, data, splits.test, 256);
    writeFiles(out, { [FILES.inference]: exportInference(manifest, session.tensors()) });
    return { out, history, test };
  } finally {
    bar?.stop();
    await session.release();
  }
}

/** The configuration a run folder was started with. */
export function readRunConfig(out: string): RunConfig {
  const path = join(out, RUN_FILE);
  if (!existsSync(path)) throw new LossgraphError(`${out}: no ${RUN_FILE}; is this a lossgraph train output folder?`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RunConfig;
  } catch {
    throw new LossgraphError(`${path}: not valid JSON`);
  }
}
