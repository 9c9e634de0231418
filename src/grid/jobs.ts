// A grid (compare, sweep) as independent jobs, one per (row, seed). A job is
// settings only — the run's configuration, where its run folder goes relative
// to an output root, and the fingerprint of the data the submitter loaded —
// with a stable id hashed from them, so the same grid twice is the same jobs.
// Wherever a job runs (in this process, a child process, a queue worker on
// another machine) it goes through runJob, and its result crosses process and
// machine boundaries through one codec, so every way of running a grid gives
// the same table, bit for bit.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import type { Dataset } from '../data/dataset.ts';
import { dataFingerprint } from '../data/fingerprint.ts';
import { loadData, type DataOptions } from '../data/index.ts';
import { ArgumentError, DataError } from '../errors.ts';
import { parseWith } from '../validation.ts';
import { VERSION } from '../version.ts';
import { jobConfigSchema } from '../train/run_schema.ts';
import type { RunConfig } from '../train/config.ts';
import { runTraining } from '../train/driver.ts';
import type { EpochRecord } from '../train/evaluate.ts';
import type { Metrics } from '../train/metrics.ts';
import { writeRunReport } from '../train/report.ts';

export const JOB_FORMAT = 1;

export interface GridJob {
  format: typeof JOB_FORMAT;
  /** The lossgraph that made the job; a worker runs only jobs of its own version. */
  lossgraph: string;
  /** The row's label in the table and the seed, for messages. */
  label: string;
  seed: number;
  /** The run folder, relative to the output root of whoever runs the job. */
  dir: string;
  /** The run's settings. Machine-local settings (cache folder, memory cap) are the runner's own. */
  config: RunConfig;
  /** dataFingerprint of the data as the submitter loaded it. */
  fingerprint: string;
}

export interface JobResult {
  test: Metrics;
  bestValidationAccuracy: number;
  history: EpochRecord[];
  /** Where the run folder is, on the machine that ran it. */
  runDir: string;
  host: string;
  seconds: number;
}

/** Settings that describe the machine, not the run: left out of jobs and of their ids. */
const LOCAL_DATA_OPTIONS = new Set(['cacheDir', 'maxMemoryMiB', 'progress']);

export function makeJob(config: RunConfig, o: { label: string; dir: string; fingerprint: string }): GridJob {
  const dataOptions = Object.fromEntries(Object.entries(config.dataOptions).filter(([k, v]) => !LOCAL_DATA_OPTIONS.has(k) && v !== undefined)) as DataOptions;
  // JSON drops undefined fields: the job is exactly what its JSON says.
  const clean = JSON.parse(JSON.stringify({ ...config, dataOptions })) as RunConfig;
  return { format: JOB_FORMAT, lossgraph: VERSION, label: o.label, seed: config.seed, dir: o.dir, config: clean, fingerprint: o.fingerprint };
}

/** sha256 of the job's canonical JSON (keys sorted): same settings, same id. BullMQ ids must not be integers or contain ':'. */
export function jobId(job: GridJob): string {
  const canonical = (v: unknown): unknown => (Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v);
  return `lg-${createHash('sha256').update(JSON.stringify(canonical(job))).digest('hex').slice(0, 40)}`;
}

// ---------------------------------------------------------------- validation

const jobSchema = z.object({
  format: z.literal(JOB_FORMAT),
  lossgraph: z.string().max(64),
  label: z.string().max(4096),
  seed: z.number().int().min(-(2 ** 31)).max(2 ** 31 - 1),
  dir: z.string().max(4096),
  config: jobConfigSchema,
  fingerprint: z.string().max(128),
}).strict();

/** A relative path of plain names: no '..' or '.', no absolute paths, no backslashes or NUL — nothing a job could escape its root with. */
const safeDir = (dir: string) => !isAbsolute(dir) && dir.split('/').every((part) => part !== '' && part !== '.' && part !== '..' && !/[\\\0]/.test(part));

/** Checks a job that came from outside (a queue) as strictly as the CLI checks its arguments. */
export function validateJob(data: unknown): GridJob {
  // Another version's job may hold other fields: its version is said first.
  const made = (data as { lossgraph?: unknown } | null)?.lossgraph;
  if (typeof made === 'string' && made !== VERSION) throw new ArgumentError(`the job was made by lossgraph ${made.slice(0, 64)}; this worker is ${VERSION}: run the same version on every machine`);
  const job = parseWith(jobSchema, data, 'job', ArgumentError) as GridJob;
  if (!safeDir(job.dir)) throw new ArgumentError(`job: dir: '${job.dir}' is not a relative folder of plain names`);
  if (job.seed !== job.config.seed) throw new ArgumentError('job: seed: differs from config.seed');
  return job;
}

// ------------------------------------------------------------------- results

/** JSON that keeps NaN and ±Infinity (metrics use NaN for "not defined"), so results survive any hop exactly. */
export function encodeResult(r: JobResult): string {
  return JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? { $number: String(v) } : v));
}

export function decodeResult(text: string): JobResult {
  return JSON.parse(text, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && typeof v.$number === 'string' ? Number(v.$number) : v)) as JobResult;
}

// ------------------------------------------------------------------- running

/** The data set of the last settings asked for (one held at a time), so a runner's consecutive jobs on the same data load it once; not the decoded-image cache on disk (data/cache.ts). */
export class LastLoadedData {
  private key?: string;
  private loaded?: Promise<{ data: Dataset; fingerprint: string }>;

  constructor(private readonly local: Pick<DataOptions, 'cacheDir' | 'maxMemoryMiB'> = {}) {}

  get(spec: string, options: DataOptions): Promise<{ data: Dataset; fingerprint: string }> {
    const key = JSON.stringify([spec, options]);
    if (key !== this.key || !this.loaded) {
      this.key = key;
      this.loaded = loadData(spec, { ...options, ...this.local }).then((data) => ({ data, fingerprint: dataFingerprint(data) }));
      this.loaded.catch(() => (this.key = undefined));
    }
    return this.loaded;
  }

  /** For a submitter that loaded the data already. */
  put(spec: string, options: DataOptions, data: Dataset): string {
    const fingerprint = dataFingerprint(data);
    this.key = JSON.stringify([spec, options]);
    this.loaded = Promise.resolve({ data, fingerprint });
    return fingerprint;
  }
}

/** Runs one job under `root`: loads (or reuses) its data, checks the fingerprint, trains, writes the run's report. */
export async function runJob(job: GridJob, root: string, cache: LastLoadedData, log: (line: string) => void = () => {}): Promise<JobResult> {
  const t0 = performance.now();
  const { data, fingerprint } = await cache.get(job.config.data, job.config.dataOptions);
  if (fingerprint !== job.fingerprint) {
    throw new DataError(`--data ${job.config.data} here (${data.count} examples, ${data.classNames.length} classes, fingerprint ${fingerprint.slice(0, 12)}) is not the data the grid was submitted with (fingerprint ${job.fingerprint.slice(0, 12)}): give every machine the same files at the same path`);
  }
  const out = join(root, job.dir);
  mkdirSync(dirname(out), { recursive: true });
  log(`${job.label}, seed ${job.seed}: training in ${out}`);
  const r = await runTraining(job.config, out, {}, { data, force: true });
  await writeRunReport(r.out, job.config, r, data.classNames);
  return { test: r.test, bestValidationAccuracy: r.best.accuracy, history: r.history, runDir: r.out, host: hostname(), seconds: (performance.now() - t0) / 1000 };
}
