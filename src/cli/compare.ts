// `lossgraph compare` (several losses x seeds) and `lossgraph sweep` (one
// loss over a parameter range x seeds): test metrics as mean +- 95%
// confidence interval, differences from the first row paired by seed.
import { mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { writeFiles } from '../artifacts/files.ts';
import type { Dataset } from '../data/dataset.ts';
import { loadData } from '../data/index.ts';
import { ArgumentError } from '../errors.ts';
import { parseLossSpec } from '../losses/loss_spec.ts';
import type { RunConfig } from '../train/config.ts';
import type { EpochRecord } from '../train/evaluate.ts';
import { checkOutPlace } from '../train/run_folder.ts';
import { LastLoadedData, decodeResult, encodeResult, jobId, makeJob, runJob, type JobResult } from '../grid/jobs.ts';
import { runInProcesses } from '../grid/pool.ts';
import { parseQueueUrl, runOnQueue } from '../grid/queue.ts';
import { meanInterval, type Metrics } from '../train/metrics.ts';
import { STAR_NOTE, curvesSpec, fmt, forestSpec, outsideInterval, readRows, seedsSpec, sweepSpec } from '../grid/figures.ts';
import { REPORT_FILE, escapeHtml, figure, page, renderSvg, table } from '../train/report.ts';
import { parseParams, warnUnusedParams } from './args.ts';
import { configFrom, type RunArgs } from './train.ts';

interface Entry {
  label: string;
  config: RunConfig;
}

interface Column {
  key: string;
  title: string;
  get: (m: Metrics) => number | undefined;
  /** Lower is better (errors), for reading the differences. */
  lower?: boolean;
}

const COLUMNS: Column[] = [
  { key: 'accuracy', title: 'accuracy', get: (m) => (Number.isNaN(m.accuracy) ? undefined : m.accuracy) },
  { key: 'best_val_accuracy', title: 'best validation accuracy', get: (m) => (m.bestValidationAccuracy === undefined || Number.isNaN(m.bestValidationAccuracy) ? undefined : m.bestValidationAccuracy) },
  { key: 'map', title: 'mAP', get: (m) => m.mAP },
  { key: 'regression_mse', title: 'MSE', get: (m) => m.regressionMse, lower: true },
  { key: 'mae', title: 'MAE', get: (m) => m.mae, lower: true },
  { key: 'mae_expected', title: 'MAE (expected class)', get: (m) => m.maeExpected, lower: true },
  { key: 'mae_unit', title: 'MAE (unit)', get: (m) => m.maeUnit, lower: true },
  { key: 'mse_unit', title: 'MSE (unit)', get: (m) => m.mseUnit, lower: true },
  { key: 'rmse', title: 'RMSE', get: (m) => m.rmse, lower: true },
];

/**
 * Columns that every entry has values for: the fixed ones, then accuracy at
 * each coarse level of the hierarchy (the unit MAE only where the unit is not
 * the class index itself).
 */
function columnsFor(results: Metrics[][]): Column[] {
  const all = results.flat();
  const coarse = Object.keys(all[0]?.coarseAccuracy ?? {}).map((level): Column => ({ key: `accuracy_${level}`, title: `accuracy (${level})`, get: (m) => m.coarseAccuracy?.[level] }));
  return [...COLUMNS, ...coarse].filter((c) => all.every((m) => c.get(m) !== undefined))
    .filter((c) => (c.key !== 'mae_unit' && c.key !== 'mse_unit') || all.some((m) => m.maeUnit !== m.mae));
}


export interface GridResult {
  rows: { label: string; metrics: Record<string, { mean: number; half: number; diff?: { mean: number; half: number } }> }[];
  markdown: string;
  /** One sentence per row after the baseline: which of its differences lie outside their 95% interval. */
  reading: string[];
  report: string;
}

/** How a grid's jobs run: here one after another, in N child processes, or on a BullMQ queue. */
export interface GridMode {
  workers?: number;
  queue?: string;
  /** ONNX Runtime threads per job (part of each job: results depend on it). */
  threads: number;
}

/** Trains every entry on every seed, one job per (entry, seed), and tabulates the test metrics. */
async function runGrid(kind: 'compare' | 'sweep', entries: Entry[], seeds: number, data: Dataset, out: string, log: (s: string) => void, mode: GridMode, json: boolean, sweepParam?: { name: string; values: number[] }): Promise<GridResult> {
  checkOutPlace(out, entries[0]!.config.data);
  const cache = new LastLoadedData();
  const fingerprint = cache.put(entries[0]!.config.data, entries[0]!.config.dataOptions, data);
  // Run folders are <out>/<row>/seed-<s>: relative to out's parent here, to a queue worker's --out there.
  const root = dirname(resolve(out));
  const jobs = entries.flatMap((e, i) => Array.from({ length: seeds }, (_, s) =>
    makeJob({ ...e.config, seed: s, threads: mode.threads }, { label: e.label, dir: `${basename(resolve(out))}/${i}/seed-${s}`, fingerprint })));
  const bar = !json && process.stderr.isTTY && mode.queue ? new cliProgress.SingleBar({ format: 'grid [{bar}] {value}/{total} jobs | ETA {eta_formatted}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(jobs.length, 0);
  let finished = 0;
  const done = (index: number, r: JobResult, reused = false) => {
    const job = jobs[index]!;
    const line = `${job.label}, seed ${job.seed}: test accuracy ${(100 * r.test.accuracy).toFixed(2)}%${r.test.mae !== undefined ? `, MAE ${r.test.mae.toFixed(3)}` : ''} (${reused ? 'finished before, reused' : `${r.seconds.toFixed(1)} s${mode.queue || mode.workers ? ` on ${r.host}` : ''}`})`;
    bar ? bar.update(++finished) : log(line);
  };
  mkdirSync(out, { recursive: true });
  let results: JobResult[];
  try {
    if (mode.queue) {
      const lost = (index: number) => process.stderr.write(`lossgraph: ${jobs[index]!.label}, seed ${jobs[index]!.seed}: the queue no longer holds this job (Redis restarted empty?); submitted again\n`);
      results = await runOnQueue(jobs, mode.queue, done, lost);
    }
    else if (mode.workers && mode.workers > 1) results = await runInProcesses(jobs, root, mode.workers, done, { cacheDir: entries[0]!.config.dataOptions.cacheDir, maxMemoryMiB: entries[0]!.config.dataOptions.maxMemoryMiB });
    else {
      results = [];
      for (const [i, job] of jobs.entries()) {
        // Through the same codec as the other modes, so all three give the same numbers.
        results.push(decodeResult(encodeResult(await runJob(job, root, cache))));
        done(i, results[i]!);
      }
    }
  } finally {
    bar?.stop();
  }
  const byEntry: JobResult[][] = entries.map((_, i) => results.slice(i * seeds, (i + 1) * seeds));
  const metrics: Metrics[][] = byEntry.map((runs) => runs.map((r) => ({ ...r.test, bestValidationAccuracy: r.bestValidationAccuracy })));
  const histories = byEntry.map((runs) => runs.map((r) => r.history));
  return tabulate(kind, entries, seeds, metrics, histories, out, sweepParam, jobs.map((j, i) => ({ id: jobId(j), row: Math.floor(i / seeds), seed: j.seed, host: results[i]!.host, runDir: results[i]!.runDir, seconds: results[i]!.seconds, history: results[i]!.history })), mode.queue !== undefined);
}

async function tabulate(kind: 'compare' | 'sweep', entries: Entry[], seeds: number, results: Metrics[][], histories: EpochRecord[][][], out: string, sweepParam: { name: string; values: number[] } | undefined, jobs: object[], remote: boolean): Promise<GridResult> {
  const cols = columnsFor(results);
  const rows = entries.map((e, i) => ({
    label: e.label,
    metrics: Object.fromEntries(cols.map((c) => {
      const values = results[i]!.map((m) => c.get(m)!);
      const base = results[0]!.map((m) => c.get(m)!);
      return [c.key, { ...meanInterval(values), diff: i === 0 ? undefined : meanInterval(values.map((v, s) => v - base[s]!)) }];
    })),
  }));
  const header = [kind === 'sweep' ? sweepParam!.name : 'loss', ...cols.flatMap((c) => [c.title, `Δ ${c.title}`])];
  // A difference whose 95% interval excludes 0 is starred.
  const body = rows.map((r) => [r.label, ...cols.flatMap((c) => {
    const m = r.metrics[c.key]!;
    return [fmt(m.mean, m.half), m.diff ? `${fmt(m.diff.mean, m.diff.half, true)}${outsideInterval(m.diff) ? ' *' : ''}` : '(baseline)'];
  })]);
  const starred = rows.some((r) => cols.some((c) => outsideInterval(r.metrics[c.key]!.diff)));
  const markdown = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n')
    + (starred ? `\n\n${STAR_NOTE}` : '');

  const reading = readRows(rows, cols, seeds);
  const axis = kind === 'sweep' ? sweepParam!.name : 'loss';
  const figures: string[] = [];
  for (const c of cols) {
    if (sweepParam) {
      figures.push(figure(await renderSvg(sweepSpec(rows, c, sweepParam.name)), `${c.title} over ${sweepParam.name}: mean over ${seeds} seeds with a 95% band`));
    } else if (rows.length > 1) {
      figures.push(figure(await renderSvg(forestSpec(rows, c, axis)), `${c.title}: each row's paired difference from '${rows[0]!.label}' (the same seeds) with its 95% interval; the dashed line is no difference`));
    }
    figures.push(figure(await renderSvg(seedsSpec(rows.map((r) => r.label), results.map((runs) => runs.map((m) => c.get(m)!)), c, axis)), `${c.title}: mean over ${seeds} seeds with its 95% interval; the dots are the seeds`));
  }
  const validationAccuracy = histories.map((runs) => runs.map((h) => h.map((e) => e.validation.accuracy)));
  if (validationAccuracy.every((runs) => runs.every((h) => h.length > 0 && h.every(Number.isFinite)))) {
    figures.push(figure(await renderSvg(curvesSpec(rows.map((r) => r.label), validationAccuracy, 'validation accuracy')), 'validation accuracy after each epoch, one line per row'));
  }
  const cfg = entries[0]!.config;
  const html = page(`lossgraph ${kind}`, `<p>Data <code>${cfg.data}</code>, model <code>${cfg.model}</code>, ${cfg.epochs} epochs, batch ${cfg.batch}, optimizer <code>${cfg.optimizer}</code>, learning rate ${cfg.lr}; ${seeds} seeds per row (seed s gives every row the same split and initialisation). Intervals are 95% t intervals; Δ is the paired difference from the first row.</p>
${table(header, body)}${starred ? `<p class="note">${STAR_NOTE}</p>` : ''}<ul>${reading.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>${figures.join('\n')}
<p>${remote ? `The runs are under each queue worker's <code>--out</code>, in <code>${basename(resolve(out))}/r/seed-s-&lt;job id&gt;/</code> (results.json lists host and folder of each)` : `Row r's run with seed s is in <code>${out}/r/seed-s/</code>`}: its report.html, metrics.jsonl, checkpoint and trained inference model.</p>`);
  writeFiles(out, { [REPORT_FILE]: new TextEncoder().encode(html), 'results.json': new TextEncoder().encode(JSON.stringify({ rows, jobs }, null, 2)) });
  return { rows, markdown, reading, report: join(out, REPORT_FILE) };
}

/** `SPEC[;sigma_decay=G][;sigma_min=S]`: a loss spec with its own sigma schedule. */
export function parseCompareEntry(text: string): { loss: string; sigmaDecay?: number; sigmaMin?: number } {
  const [loss, ...opts] = text.split(';').map((s) => s.trim());
  const out: { loss: string; sigmaDecay?: number; sigmaMin?: number } = { loss: loss! };
  for (const o of opts) {
    const m = /^(sigma_decay|sigma_min)=([0-9.eE+-]+)$/.exec(o);
    if (!m || !Number.isFinite(Number(m[2]))) throw new ArgumentError(`--losses '${text}': '${o}' is not sigma_decay=G or sigma_min=S`);
    if (m[1] === 'sigma_decay') out.sigmaDecay = Number(m[2]);
    else out.sigmaMin = Number(m[2]);
  }
  return out;
}

/** `name=start:end:step` -> the values, end included. */
/** A sweep over more values than this is a mistyped STEP, not a plan (each value trains --seeds runs). */
const MAX_SWEEP_VALUES = 1000;

export function parseRange(text: string): { name: string; values: number[] } {
  const m = /^([A-Za-z_][A-Za-z0-9_.]*)=([^:]+):([^:]+):([^:]+)$/.exec(text);
  const [start, end, step] = m ? [Number(m[2]), Number(m[3]), Number(m[4])] : [NaN, NaN, NaN];
  if (!m || ![start, end, step].every(Number.isFinite) || step <= 0 || end < start) {
    throw new ArgumentError(`--param ${text}: a sweep needs NAME=START:END:STEP with STEP > 0, e.g. w=0:1:0.1`);
  }
  const n = Math.floor((end - start) / step + 1e-9) + 1;
  if (n > MAX_SWEEP_VALUES) throw new ArgumentError(`--param ${text}: ${n.toExponential(2)} values; a sweep takes at most ${MAX_SWEEP_VALUES} (take a larger STEP)`);
  return { name: m[1]!, values: Array.from({ length: n }, (_, i) => Number((start + i * step).toFixed(10))) };
}

function seedsOf(a: RunArgs): number {
  const n = a.seeds as number;
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`--seeds must be a positive integer, got ${n}`);
  return n;
}

function gridMode(a: RunArgs): GridMode {
  const workers = a.workers as number | undefined;
  const queue = a.queue as string | undefined;
  const threads = a.threads as number;
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) throw new ArgumentError(`--workers must be a positive integer, got ${workers}`);
  if (!Number.isInteger(threads) || threads < 1) throw new ArgumentError(`--threads must be a positive integer, got ${threads}`);
  if (workers !== undefined && queue !== undefined) throw new ArgumentError('--workers and --queue do not go together: queue workers run where you start `lossgraph worker`');
  if (queue !== undefined) parseQueueUrl(queue);
  return { workers, queue, threads };
}

function finish(a: RunArgs, grid: GridResult): void {
  if (a.json) console.log(JSON.stringify({ rows: grid.rows, reading: grid.reading, report: grid.report }));
  else console.log(`\n${grid.markdown}\n\n${grid.reading.join('\n')}\nreport: ${grid.report}`);
}

export async function compareCommand(a: RunArgs): Promise<void> {
  const log = a.json ? () => {} : (s: string) => console.log(s);
  const mode = gridMode(a);
  const params = parseParams(a.param as string[]);
  const rows = (a.losses as string[]).map((text) => ({ text, entry: parseCompareEntry(text) }));
  warnUnusedParams(params, rows.map((r) => r.entry.loss));
  const entries = rows.map(({ text, entry: e }) => {
    const config = configFrom(a, e.loss, 0, params);
    if (e.sigmaDecay !== undefined) config.sigmaDecay = e.sigmaDecay;
    if (e.sigmaMin !== undefined) config.sigmaMin = e.sigmaMin;
    // --teacher serves the rows that read targets (kl); the others, such as a ce baseline, train on labels.
    if (!parseLossSpec(e.loss).needs.has('targets')) config.teacher = undefined;
    return { label: text, config };
  });
  if (entries.length === 0) throw new ArgumentError('--losses needs at least one loss spec');
  const data = await loadData(a.data as string, entries[0]!.config.dataOptions);
  log(`data: ${data.source} (${data.count} examples, ${data.classNames.length} classes)`);
  finish(a, await runGrid('compare', entries, seedsOf(a), data, (a.out as string | undefined) ?? 'artifacts/compare', log, mode, Boolean(a.json)));
}

export async function sweepCommand(a: RunArgs): Promise<void> {
  const log = a.json ? () => {} : (s: string) => console.log(s);
  const mode = gridMode(a);
  const all = a.param as string[];
  const ranges = all.filter((p) => p.includes(':')).map(parseRange);
  if (ranges.length !== 1) throw new ArgumentError('sweep needs exactly one --param NAME=START:END:STEP');
  const range = ranges[0]!;
  const fixed = parseParams(all.filter((p) => !p.includes(':')));
  if (!parseLossSpec(a.loss as string).params.includes(range.name)) {
    throw new ArgumentError(`--param ${range.name}=...: '${range.name}' is not a parameter of the loss spec '${a.loss}', so every row would train the same model`);
  }
  warnUnusedParams(fixed, [a.loss as string]);
  const entries = range.values.map((v) => ({ label: String(v), config: configFrom(a, a.loss as string, 0, { ...fixed, [range.name]: v }) }));
  const data = await loadData(a.data as string, entries[0]!.config.dataOptions);
  log(`data: ${data.source} (${data.count} examples, ${data.classNames.length} classes); ${range.name} = ${range.values.join(', ')}`);
  finish(a, await runGrid('sweep', entries, seedsOf(a), data, (a.out as string | undefined) ?? 'artifacts/sweep', log, mode, Boolean(a.json), range));
}
