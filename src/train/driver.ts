// The training driver: epochs and batches over the training-step artifact,
// the schedules fed as inputs (schedules.ts), evaluation every epoch
// (evaluate.ts), metrics.jsonl, an atomic checkpoint every epoch, resume, and
// a NaN guard that keeps the last good checkpoint. The run's configuration is
// config.ts's, its folder run_folder.ts's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { buildArtifacts } from '../artifacts/build.ts';
import { FILES, bakeInference, checkpointBytes, parseCheckpoint } from '../artifacts/contract.ts';
import { writeFiles } from '../artifacts/files.ts';
import { lockFolder } from '../artifacts/folders.ts';
import { readImportedModel } from '../artifacts/model_file.ts';
import { shuffledBatches } from '../data/batches.ts';
import { splitDataset, type Dataset } from '../data/dataset.ts';
import { dataFingerprint } from '../data/fingerprint.ts';
import { loadData } from '../data/index.ts';
import { parseCheckpointHistory } from './run_schema.ts';
import { DataError, LossgraphError } from '../errors.ts';
import { parseLossSpec } from '../losses/loss_spec.ts';
import { checkTargets } from '../losses/targets.ts';
import { assertProvider, readCheckpoint, readManifest } from '../runtime/node.ts';
import { TrainingSession, type TrainBatch } from '../runtime/training.ts';
import { balancedClassWeights, stepsPerRunFor, type RunConfig } from './config.ts';
import { bestEpoch, evaluate, type EpochRecord, type RunResult } from './evaluate.ts';
import { cacheFeatures, featuresCacheable } from './feature_cache.ts';
import { RUN_FILE, checkOutFolder, checkSameData, writeMetrics } from './run_folder.ts';
import { applySigmaSchedule, checkSigmaSchedule, learningRate } from './schedules.ts';
import { TeacherTargets } from './teacher.ts';

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
      writeMetrics(out, []);
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
      writeMetrics(out, history);
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
