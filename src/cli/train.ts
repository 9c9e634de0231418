// `lossgraph train` and `lossgraph eval`.
import type { Argv } from 'yargs';
import { defaultCacheDir } from '../data/cache.ts';
import { DATA_FORMS, loadData } from '../data/index.ts';
import { splitDataset } from '../data/dataset.ts';
import { ArgumentError } from '../errors.ts';
import { loadTrainingSession } from '../runtime/node.ts';
import { DEFAULT_CONFIG, DEFAULT_STEPS_PER_RUN, type RunConfig } from '../train/config.ts';
import { runTraining, type RunHooks } from '../train/driver.ts';
import { evaluate } from '../train/evaluate.ts';
import { checkSameData, readRunConfig } from '../train/run_folder.ts';
import { applySigmaSchedule } from '../train/schedules.ts';
import { TeacherTargets } from '../train/teacher.ts';
import { TensorBoardWriter } from '../train/tensorboard.ts';
import { TARGETS } from '../graph/graph.ts';
import { metricsSummary, type Metrics } from '../train/metrics.ts';
import { LR_SCHEDULES, RUN_PROVIDERS, SIGMA_DECAY_OF, checkRunSettings } from '../train/run_schema.ts';
import { parseParams, warnUnusedParams } from './args.ts';

export { metricsSummary };

export function parseSize(text: string, flag: string): [number, number, number] {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text);
  if (!m) throw new ArgumentError(`${flag} ${text}: expected CxHxW, e.g. 3x64x64`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function positive(name: string, v: number, integer = true): number {
  if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v))) throw new ArgumentError(`--${name} must be a positive ${integer ? 'integer' : 'finite number'}, got ${v}`);
  return v;
}

/** Options shared by train, compare and sweep. */
export function runOptions<T>(y: Argv<T>) {
  return y
    .option('data', { type: 'string', default: 'embedded', describe: `data set: ${DATA_FORMS}` })
    .option('model', { type: 'string', default: 'cnn:16,32', describe: "mlp:WIDTHS, cnn:FILTERS or 'onnx:FILE;head=replace;train=head' (an imported model, docs/import.md)" })
    .option('epochs', { type: 'number', default: DEFAULT_CONFIG.epochs })
    .option('batch', { type: 'number', default: DEFAULT_CONFIG.batch })
    .option('lr', { type: 'number', default: DEFAULT_CONFIG.lr, describe: 'learning rate' })
    .option('lr-schedule', { choices: LR_SCHEDULES, default: DEFAULT_CONFIG.lrSchedule })
    .option('lr-step-every', { type: 'number', default: DEFAULT_CONFIG.stepEvery, describe: 'epochs between step decays' })
    .option('lr-step-gamma', { type: 'number', default: DEFAULT_CONFIG.stepGamma })
    .option('optimizer', { type: 'string', default: DEFAULT_CONFIG.optimizer, describe: 'sgd or adamw, with options (sgd:momentum=0.9)' })
    .option('sigma-decay', { type: 'number', describe: 'per-epoch decay of gaussian_kl sigma (a standard deviation): sigma_e = max(sigma-min, sigma_0 * GAMMA^e)' })
    .option('sigma-decay-of', { choices: SIGMA_DECAY_OF, default: 'sigma' as const, describe: 'what --sigma-decay multiplies each epoch: sigma, or the variance sigma^2 (seed 000\'s wording; sigma then falls by sqrt(GAMMA))' })
    .option('sigma-min', { type: 'number', default: DEFAULT_CONFIG.sigmaMin, describe: 'floor of the decayed sigma, > 0 (ours, not seed 000\'s)' })
    .option('class-weights', { type: 'string', describe: "class weights for ce, label_smoothing, focal: 'balanced' (n / (K n_k) on the training split) or a comma list, one per class" })
    .option('importance-weights', { type: 'string', describe: 'importance weights of the K-1 ordinal thresholds for coral and corn: a comma list' })
    .option('target', { choices: TARGETS, describe: "the runtime the graphs are built for (default: the one --ep names). 'webgpu': forms onnxruntime-web's WebGPU provider runs without CPU fallback (for a page that fine-tunes on WebGPU); 'cuda': forms ONNX Runtime's CUDA provider accepts (batch norm's training form lowered)" })
    .option('clip-grad-norm', { type: 'number', describe: "clip the global gradient norm to this before each update (PyTorch's clip_grad_norm_), inside the training graph" })
    .option('teacher', { type: 'string', describe: "a trained run whose predictions, softened by the loss's temperature, are the targets (distillation: --loss '0.5*ce + 0.5*kl(T=4)')" })
    .option('param', { type: 'string', array: true, default: [] as string[], describe: 'bind a named parameter of the loss spec, e.g. --param alpha=0.5' })
    .option('ep', { choices: RUN_PROVIDERS, default: DEFAULT_CONFIG.ep, describe: 'execution provider' })
    .option('feature-cache', { type: 'boolean', default: true, describe: "with an imported model whose body is frozen (train=head, bn=frozen) and no augmentation, compute each image's features once and train the head on them (--no-feature-cache: the whole model every step)" })
    .option('steps-per-run', { type: 'number', describe: `training steps per run of the training graph (default ${DEFAULT_STEPS_PER_RUN}, fewer for large images); the updates are the same, more steps per run copy the weights out of ONNX Runtime less often` })
    .option('image-size', { type: 'string', describe: 'CxHxW for image folders, UTKFace and Pets (default 3x32x32)' })
    .option('age-bin-width', { type: 'number', default: 1, describe: 'UTKFace: years per class' })
    .option('age-cap', { type: 'number', default: 100, describe: 'UTKFace: ages at or above share the last class' })
    .option('label-column', { type: 'string', describe: "CSV: the label column (default 'label', else the last)" })
    .option('label-columns', { type: 'string', describe: "CSV and images:CSV: several 0/1 label columns (multi-label), comma list or a prefix 'tag_*'" })
    .option('target-columns', { type: 'string', describe: "CSV: real-valued target columns (regression, for mse(input=raw) or l1(input=raw)), comma list or a prefix 'y_*'" })
    .option('cache-dir', { type: 'string', describe: 'folder of the decoded-image cache (default $LOSSGRAPH_CACHE_DIR, else ~/.cache/lossgraph)' })
    .option('cache', { type: 'boolean', default: true, describe: 'keep decoded images on disk so the next run need not decode (--no-cache: decode every time)' })
    .option('max-memory', { type: 'number', describe: 'MiB of decoded images to hold in memory; a larger image data set streams its batches from the disk cache' })
    .option('skip-bad', { type: 'boolean', default: false, describe: 'skip unreadable or badly named files, and report how many' })
    .option('augment', { type: 'string', default: '', describe: 'comma list: crop (random 4-pixel shifts), flip (horizontal)' })
    .option('json', { type: 'boolean', default: false, describe: 'no progress output; the last stdout line is one JSON object' });
}

export function trainOptions<T>(y: Argv<T>) {
  return runOptions(y)
    .option('loss', { type: 'string', default: 'ce', describe: "loss spec, e.g. 'ce + 0.5*gaussian_kl(sigma=2)'" })
    .option('seed', { type: 'number', default: 0 })
    .option('out', { type: 'string', describe: 'output folder (default artifacts/run-SEED)' })
    .option('resume', { type: 'string', describe: 'continue the run in this folder (its settings are reused)' })
    .option('force', { type: 'boolean', default: false, describe: 'replace a run already in --out' });
}

export type RunArgs = Awaited<ReturnType<ReturnType<typeof runOptions>['parseAsync']>> & Record<string, unknown>;

/** A comma list of finite numbers, or one line naming the flag. */
export function numberList(text: string, flag: string): number[] {
  const values = text.split(',').map((x) => x.trim());
  const bad = values.find((x) => x === '' || !Number.isFinite(Number(x)));
  if (bad !== undefined) throw new ArgumentError(`${flag} ${text}: '${bad}' is not a number (expected a comma list such as 1,2.5,0.5)`);
  return values.map(Number);
}

function columnList(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').map((x) => x.trim()).filter(Boolean);
}

/** A RunConfig from command-line arguments. */
export function configFrom(a: RunArgs, loss: string, seed: number, params: Record<string, number>): RunConfig {
  const augment = String(a.augment ?? '').split(',').filter(Boolean);
  for (const x of augment) if (x !== 'crop' && x !== 'flip') throw new ArgumentError(`--augment ${x}: use crop and/or flip`);
  // The checks above and in the driver say most problems in the flags' own words; the schema run.json is read
  // back with has the last word, so a run is never started that its own run.json would refuse.
  return checkRunSettings(fromFlags(a, loss, seed, params, augment)) as RunConfig;
}

function fromFlags(a: RunArgs, loss: string, seed: number, params: Record<string, number>, augment: string[]): RunConfig {
  return {
    data: a.data,
    dataOptions: {
      imageSize: a['image-size'] ? parseSize(a['image-size'], '--image-size') : undefined,
      skipBad: a['skip-bad'],
      ageBins: { width: a['age-bin-width'], cap: a['age-cap'] },
      labelColumn: a['label-column'],
      labelColumns: columnList(a['label-columns']),
      cacheDir: a.cache === false ? undefined : (a['cache-dir'] ?? defaultCacheDir()),
      maxMemoryMiB: a['max-memory'] === undefined ? undefined : positive('max-memory', a['max-memory'], false),
      targetColumns: columnList(a['target-columns']),
    },
    model: a.model,
    loss,
    lossParams: params,
    optimizer: a.optimizer,
    epochs: positive('epochs', a.epochs),
    batch: positive('batch', a.batch),
    lr: positive('lr', a.lr, false),
    lrSchedule: a['lr-schedule'],
    stepEvery: positive('lr-step-every', a['lr-step-every']),
    stepGamma: positive('lr-step-gamma', a['lr-step-gamma'], false),
    sigmaDecay: a['sigma-decay'],
    sigmaDecayOf: a['sigma-decay-of'],
    sigmaMin: a['sigma-min'],
    seed,
    augment: { crop: augment.includes('crop') ? 4 : 0, flip: augment.includes('flip') },
    ep: a.ep,
    classWeights: a['class-weights'] === undefined ? undefined : a['class-weights'] === 'balanced' ? 'balanced' : numberList(a['class-weights'], '--class-weights'),
    importanceWeights: a['importance-weights'] === undefined ? undefined : numberList(a['importance-weights'], '--importance-weights'),
    teacher: a.teacher,
    clipGradNorm: a['clip-grad-norm'],
    ...(a['steps-per-run'] !== undefined ? { stepsPerRun: positive('steps-per-run', a['steps-per-run']) } : {}),
    ...(a['feature-cache'] === false ? { featureCache: false } : {}),
    ...(a.target && a.target !== 'cpu' ? { target: a.target } : {}),
  };
}

function printMetrics(title: string, m: Metrics): void {
  console.log(title);
  for (const [k, v] of Object.entries(metricsSummary(m))) console.log(`  ${k.padEnd(16)} ${v.toFixed(4)}`);
}

/** The driver's hooks that write a run's values as TensorBoard scalars into `dir` (none without --log-dir). */
function tensorBoardHooks(dir: string | undefined, config: RunConfig): Pick<RunHooks, 'onStep' | 'onEpoch'> {
  if (dir === undefined) return {};
  const tb = new TensorBoardWriter(dir);
  const settings = Object.entries(config).filter(([k, v]) => v !== undefined && k !== 'dataOptions' && k !== 'dataFingerprint').map(([k, v]) => `| ${k} | ${JSON.stringify(v)} |`);
  tb.text(0, 'hparams', ['| setting | value |', '|---|---|', ...settings].join('\n'));
  return {
    onStep: (step, v) => tb.scalars(step, {
      'train/loss': v.loss,
      ...Object.fromEntries(Object.entries(v.terms).map(([term, x]) => [`train/loss/${term}`, x])),
      'train/lr': v.lr,
      'train/sigma': v.sigma,
      'train/grad_norm': v.gradNorm,
    }),
    onEpoch: (r) => tb.scalars(r.epoch, {
      'epoch/train_loss': r.trainLoss,
      'epoch/lr': r.lr,
      'epoch/sigma': r.sigma,
      ...Object.fromEntries(Object.entries(r.validation).filter(([, x]) => typeof x === 'number').map(([m, x]) => [`validation/${m}`, x as number])),
    }),
  };
}

export async function trainCommand(a: RunArgs): Promise<void> {
  const log = a.json ? () => {} : (line: string) => console.log(line);
  let config: RunConfig;
  let out: string;
  if (a.resume) {
    out = a.resume as string;
    config = readRunConfig(out);
    log(`resuming ${out}`);
  } else {
    const params = parseParams(a.param);
    warnUnusedParams(params, [a.loss as string]);
    config = configFrom(a, a.loss as string, a.seed as number, params);
    out = (a.out as string | undefined) ?? `artifacts/run-${config.seed}`;
  }
  const data = await loadData(config.data, config.dataOptions);
  // Ctrl-C stops after the current step with a checkpoint; a second one exits at once.
  const interrupt = { requested: false };
  const onSigint = () => {
    if (interrupt.requested) process.exit(130);
    interrupt.requested = true;
  };
  process.on('SIGINT', onSigint);
  let result: Awaited<ReturnType<typeof runTraining>>;
  try {
    result = await runTraining(config, out, { log, progress: !a.json, interrupt, ...tensorBoardHooks(a['log-dir'] as string | undefined, config) }, { resume: !!a.resume, data, force: a.force as boolean });
  } finally {
    process.off('SIGINT', onSigint);
  }
  // Vega (the report's plots) loads only for commands that write reports.
  const { writeRunReport } = await import('../train/report.ts');
  const report = await writeRunReport(out, config, result, data.classNames);
  const best = { epoch: result.best.epoch, validation_accuracy: result.best.accuracy, validation_loss: result.best.loss };
  const perClassF1 = result.test.f1 ? Object.fromEntries(data.classNames.map((c, i) => [c, result.test.f1![i]!])) : undefined;
  if (a.json) console.log(JSON.stringify({ out, report, epochs: result.history.length, skipped: data.skipped, test: metricsSummary(result.test), ...(perClassF1 ? { f1: perClassF1 } : {}), best }));
  else {
    printMetrics('test metrics:', result.test);
    if (perClassF1) console.log(`  per-class F1     ${Object.entries(perClassF1).map(([c, f]) => `${c} ${f.toFixed(3)}`).join(', ')}`);
    if (!Number.isNaN(best.validation_accuracy)) console.log(`best epoch: ${best.epoch} (validation accuracy ${best.validation_accuracy.toFixed(4)})`);
    console.log(`report: ${report}`);
  }
}

export async function evalCommand(a: { run: string; data?: string; checkpoint?: string; json: boolean }): Promise<void> {
  const config = readRunConfig(a.run);
  const data = await loadData(a.data ?? config.data, config.dataOptions);
  // The run's own test split is only the run's on the run's own data.
  if (!a.data) checkSameData(config, data, a.run);
  const session = await loadTrainingSession(a.run, { ep: config.ep, checkpoint: a.checkpoint });
  // The loss is measured with the hyperparameters of the run's last epoch (a decayed sigma).
  applySigmaSchedule(session, config, config.epochs - 1);
  const indices = a.data ? Int32Array.from({ length: data.count }, (_, i) => i) : splitDataset(data, config.seed).test;
  if (data.shape.join('x') !== session.manifest.spec.input.join('x')) {
    throw new ArgumentError(`--data ${a.data ?? config.data} has examples of ${data.shape.join('x')}, the run was trained on ${session.manifest.spec.input.join('x')}`);
  }
  if (data.classNames.length !== session.manifest.spec.classes) {
    throw new ArgumentError(`--data ${a.data ?? config.data} has ${data.classNames.length} classes, the run was trained on ${session.manifest.spec.classes}`);
  }
  const teacher = config.teacher ? await TeacherTargets.create(config.teacher, session.manifest, data, config.ep) : undefined;
  const m = await evaluate(session, data, indices, 256, teacher);
  await session.release();
  await teacher?.release();
  if (a.json) console.log(JSON.stringify({ run: a.run, examples: indices.length, test: metricsSummary(m), confusion: m.confusion }));
  else printMetrics(`test metrics (${indices.length} examples):`, m);
}
