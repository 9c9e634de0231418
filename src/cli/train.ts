// `lossgraph train` and `lossgraph eval`.
import type { Argv } from 'yargs';
import { DATA_FORMS, loadData } from '../data/index.ts';
import { splitDataset } from '../data/dataset.ts';
import { LossgraphError } from '../errors.ts';
import { TrainingSession } from '../runtime/training.ts';
import { DEFAULT_CONFIG, applySigmaSchedule, evaluate, readRunConfig, runTraining, type RunConfig } from '../train/driver.ts';
import type { Metrics } from '../train/metrics.ts';

export function parseSize(text: string, flag: string): [number, number, number] {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text);
  if (!m) throw new LossgraphError(`${flag} ${text}: expected CxHxW, e.g. 3x64x64`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function positive(name: string, v: number, integer = true): number {
  if (!(v > 0) || (integer && !Number.isInteger(v))) throw new LossgraphError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
  return v;
}

/** Options shared by train, compare and sweep. */
export function runOptions<T>(y: Argv<T>) {
  return y
    .option('data', { type: 'string', default: 'embedded', describe: `data set: ${DATA_FORMS}` })
    .option('model', { type: 'string', default: 'cnn:16,32', describe: 'mlp:WIDTHS or cnn:FILTERS' })
    .option('epochs', { type: 'number', default: DEFAULT_CONFIG.epochs })
    .option('batch', { type: 'number', default: DEFAULT_CONFIG.batch })
    .option('lr', { type: 'number', default: DEFAULT_CONFIG.lr, describe: 'learning rate' })
    .option('lr-schedule', { choices: ['constant', 'cosine', 'step'] as const, default: 'constant' as const })
    .option('lr-step-every', { type: 'number', default: DEFAULT_CONFIG.stepEvery, describe: 'epochs between step decays' })
    .option('lr-step-gamma', { type: 'number', default: DEFAULT_CONFIG.stepGamma })
    .option('optimizer', { type: 'string', default: DEFAULT_CONFIG.optimizer, describe: 'sgd or adamw, with options (sgd:momentum=0.9)' })
    .option('sigma-decay', { type: 'number', describe: 'per-epoch decay of gaussian_kl sigma: sigma_e = max(sigma-min, sigma_0 * GAMMA^e)' })
    .option('sigma-min', { type: 'number', default: DEFAULT_CONFIG.sigmaMin })
    .option('param', { type: 'string', array: true, default: [] as string[], describe: 'bind a named parameter of the loss spec, e.g. --param alpha=0.5' })
    .option('ep', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const, describe: 'execution provider' })
    .option('image-size', { type: 'string', describe: 'CxHxW for image folders, UTKFace and Pets (default 3x32x32)' })
    .option('age-bin-width', { type: 'number', default: 1, describe: 'UTKFace: years per class' })
    .option('age-cap', { type: 'number', default: 100, describe: 'UTKFace: ages at or above share the last class' })
    .option('label-column', { type: 'string', describe: "CSV: the label column (default 'label', else the last)" })
    .option('skip-bad', { type: 'boolean', default: false, describe: 'skip unreadable or badly named files, and report how many' })
    .option('augment', { type: 'string', default: '', describe: 'comma list: crop (random 4-pixel shifts), flip (horizontal)' })
    .option('json', { type: 'boolean', default: false, describe: 'no progress output; the last stdout line is one JSON object' });
}

export function trainOptions<T>(y: Argv<T>) {
  return runOptions(y)
    .option('loss', { type: 'string', default: 'ce', describe: "loss spec, e.g. 'ce + 0.5*gaussian_kl(sigma=2)'" })
    .option('seed', { type: 'number', default: 0 })
    .option('out', { type: 'string', describe: 'output folder (default artifacts/run-SEED)' })
    .option('resume', { type: 'string', describe: 'continue the run in this folder (its settings are reused)' });
}

export type RunArgs = Awaited<ReturnType<ReturnType<typeof runOptions>['parseAsync']>> & Record<string, unknown>;

/** A RunConfig from command-line arguments. */
export function configFrom(a: RunArgs, loss: string, seed: number, params: Record<string, number>): RunConfig {
  const augment = String(a.augment ?? '').split(',').filter(Boolean);
  for (const x of augment) if (x !== 'crop' && x !== 'flip') throw new LossgraphError(`--augment ${x}: use crop and/or flip`);
  return {
    data: a.data,
    dataOptions: {
      imageSize: a['image-size'] ? parseSize(a['image-size'], '--image-size') : undefined,
      skipBad: a['skip-bad'],
      ageBins: { width: a['age-bin-width'], cap: a['age-cap'] },
      labelColumn: a['label-column'],
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
    stepGamma: a['lr-step-gamma'],
    sigmaDecay: a['sigma-decay'],
    sigmaMin: a['sigma-min'],
    seed,
    augment: { crop: augment.includes('crop') ? 4 : 0, flip: augment.includes('flip') },
    ep: a.ep,
  };
}

export function metricsSummary(m: Metrics): Record<string, number> {
  const out: Record<string, number> = { loss: m.loss, accuracy: m.accuracy, [`top${m.k}`]: m.topK };
  if (m.mae !== undefined) Object.assign(out, { mae: m.mae, rmse: m.rmse! });
  if (m.maeExpected !== undefined) Object.assign(out, { mae_expected: m.maeExpected, rmse_expected: m.rmseExpected! });
  // In the data set's own unit (years), where that differs from class steps.
  if (m.maeUnit !== undefined && m.maeUnit !== m.mae) out[`mae_${m.unit!.replace(/\W+/g, '_')}`] = m.maeUnit;
  for (const [level, acc] of Object.entries(m.coarseAccuracy ?? {})) out[`accuracy_${level}`] = acc;
  return out;
}

function printMetrics(title: string, m: Metrics): void {
  console.log(title);
  for (const [k, v] of Object.entries(metricsSummary(m))) console.log(`  ${k.padEnd(16)} ${v.toFixed(4)}`);
}

export async function trainCommand(a: RunArgs): Promise<void> {
  const { parseParams } = await import('./main.ts');
  const log = a.json ? () => {} : (line: string) => console.log(line);
  let config: RunConfig;
  let out: string;
  if (a.resume) {
    out = a.resume as string;
    config = readRunConfig(out);
    log(`resuming ${out}`);
  } else {
    config = configFrom(a, a.loss as string, a.seed as number, parseParams(a.param));
    out = (a.out as string | undefined) ?? `artifacts/run-${config.seed}`;
  }
  const data = await loadData(config.data, config.dataOptions);
  const result = await runTraining(config, out, { log, progress: !a.json }, { resume: !!a.resume, data });
  // Vega (the report's plots) loads only for commands that write reports.
  const { writeRunReport } = await import('../train/report.ts');
  const report = await writeRunReport(out, config, result, data.classNames);
  if (a.json) console.log(JSON.stringify({ out, report, epochs: result.history.length, skipped: data.skipped, test: metricsSummary(result.test) }));
  else {
    printMetrics('test metrics:', result.test);
    console.log(`report: ${report}`);
  }
}

export async function evalCommand(a: { run: string; data?: string; json: boolean }): Promise<void> {
  const config = readRunConfig(a.run);
  const data = await loadData(a.data ?? config.data, config.dataOptions);
  const session = await TrainingSession.load(a.run, { ep: config.ep });
  // The loss is measured with the hyperparameters of the run's last epoch (a decayed sigma).
  applySigmaSchedule(session, config, config.epochs - 1);
  const indices = a.data ? Int32Array.from({ length: data.count }, (_, i) => i) : splitDataset(data, config.seed).test;
  if (data.shape.join('x') !== session.manifest.spec.input.join('x')) {
    throw new LossgraphError(`--data ${a.data} has examples of ${data.shape.join('x')}, the run was trained on ${session.manifest.spec.input.join('x')}`);
  }
  if (data.classNames.length !== session.manifest.spec.classes) {
    throw new LossgraphError(`--data ${a.data} has ${data.classNames.length} classes, the run was trained on ${session.manifest.spec.classes}`);
  }
  const m = await evaluate(session, data, indices, 256);
  await session.release();
  if (a.json) console.log(JSON.stringify({ run: a.run, examples: indices.length, test: metricsSummary(m), confusion: m.confusion }));
  else printMetrics(`test metrics (${indices.length} examples):`, m);
}
