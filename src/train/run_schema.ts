// The run configuration, described once as a schema: a run assembled from
// command-line flags is checked by it before anything runs (so what train
// writes, run.json can read back), run.json is read back through it (a
// hand-edited run.json with `"data": 5` or no `augment` failed as an internal
// error), a queue job's config is checked by it (unknown fields, `constructor`
// among them, are refused), and so is the training history a checkpoint
// carries in its metadata. The command line takes its choices from here. The
// RunConfig type (config.ts) stays the commented description of each field; a
// check in run_folder.ts keeps the two the same.
import { z } from 'zod';
import { ArgumentError, ArtifactError } from '../errors.ts';
import { TARGETS } from '../graph/graph.ts';
import { parseWith } from '../validation.ts';

/** The choices of the run's enumerated settings, for the schema and the command line's options alike. */
export const LR_SCHEDULES = ['constant', 'cosine', 'step'] as const;
export const SIGMA_DECAY_OF = ['sigma', 'variance'] as const;
export const RUN_PROVIDERS = ['cpu', 'cuda'] as const;

const finite = z.number().finite({ message: 'must be a finite number' });
const positive = z.number().positive({ message: 'must be a positive number' }).finite({ message: 'must be a positive number' });
const text = z.string().max(4096);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const columns = z.array(text).max(10_000);

/** What a job may say of its data: where the worker keeps its cache and how much memory it gives is the worker's. */
const jobDataOptions = z.object({
  imageSize: z.tuple([int(1, 4), int(1, 4096), int(1, 4096)]).optional(),
  skipBad: z.boolean().optional(),
  ageBins: z.object({ width: positive, cap: positive }).strict().optional(),
  labelColumn: text.optional(),
  labelColumns: columns.optional(),
  targetColumns: columns.optional(),
}).strict();

const runFields = {
  data: text,
  model: text,
  loss: text,
  lossParams: z.record(finite),
  optimizer: text,
  epochs: int(1, 1_000_000),
  batch: int(1, 1_000_000),
  lr: positive,
  lrSchedule: z.enum(LR_SCHEDULES),
  stepEvery: int(1),
  stepGamma: positive,
  sigmaDecay: positive.optional(),
  sigmaDecayOf: z.enum(SIGMA_DECAY_OF).optional(),
  sigmaMin: finite,
  seed: int(-(2 ** 31), 2 ** 31 - 1),
  augment: z.object({ crop: int(0, 1024), flip: z.boolean() }).strict(),
  ep: z.enum(RUN_PROVIDERS),
  clipGradNorm: positive.optional(),
  target: z.enum(TARGETS).optional(),
  classWeights: z.union([z.literal('balanced'), z.array(finite).max(100_000)]).optional(),
  importanceWeights: z.array(finite).max(100_000).optional(),
  teacher: text.optional(),
  stepsPerRun: int(1, 1_000_000).optional(),
  featureCache: z.boolean().optional(),
  threads: int(1, 1024).optional(),
};

/** run.json: the job's fields, and the data options this machine ran with. */
export const runConfigSchema = z.object({
  ...runFields,
  dataOptions: jobDataOptions.extend({ cacheDir: text.optional(), maxMemoryMiB: positive.optional() }).strict(),
  dataFingerprint: z.string().regex(/^[0-9a-f]{32}$/).optional(),
}).strict();

/** A queue job's config: what a submitter may ask of a worker. */
export const jobConfigSchema = z.object({ ...runFields, dataOptions: jobDataOptions }).strict();

/** The training history in a checkpoint's metadata (non-finite metrics were written as null). */
const historySchema = z.array(z.object({
  epoch: int(1),
  trainLoss: finite.nullable(),
  lr: finite,
  sigma: finite.optional(),
  seconds: finite,
  validation: z.object({ loss: finite.nullable(), accuracy: finite.nullable() }).passthrough(),
}).strict());

/** Where an interrupted epoch stopped. */
const partialSchema = z.object({ epoch: int(0), steps: int(0), lossSum: finite }).strict();

/** run.json's configuration from its text. */
export function parseRunConfig(json: string, where: string): z.infer<typeof runConfigSchema> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ArtifactError(`${where}: not valid JSON`);
  }
  return parseWith(runConfigSchema, raw, where, ArtifactError);
}

/** The flag that sets a run field, where it is not the field's name in kebab case. */
const FLAGS: Record<string, string> = { lossParams: 'param', stepEvery: 'lr-step-every', stepGamma: 'lr-step-gamma', ep: 'ep', ageBins: 'age-bin-width', maxMemoryMiB: 'max-memory', labelColumns: 'label-columns' };

/** `stepEvery` as `--lr-step-every`, `dataOptions.imageSize` as `--image-size`. */
function flagOf(path: readonly (string | number)[]): string | undefined {
  const key = path[0] === 'dataOptions' ? path[1] : path[0];
  if (typeof key !== 'string') return undefined;
  return `--${FLAGS[key] ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** A run assembled from command-line flags, checked by the schema run.json is read back with; a problem names its flag. */
export function checkRunSettings(config: unknown): z.infer<typeof runConfigSchema> {
  return parseWith(runConfigSchema, config, 'the run settings', ArgumentError, flagOf);
}

/** A job's configuration, from a queue: refused in one line naming the field. */
export function parseJobConfig(value: unknown): z.infer<typeof jobConfigSchema> {
  return parseWith(jobConfigSchema, value, 'job field config', ArgumentError);
}

/** A checkpoint's `history` and `partial` metadata (JSON inside strings). */
export function parseCheckpointHistory(meta: Readonly<Record<string, string>>, where: string): { history: z.infer<typeof historySchema>; partial?: z.infer<typeof partialSchema> } {
  const json = (key: string, value: string) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      throw new ArtifactError(`${where}: metadata '${key}' is not valid JSON`);
    }
  };
  const history = parseWith(historySchema, json('history', meta.history ?? '[]'), `${where}: metadata 'history'`, ArtifactError);
  const partial = meta.partial === undefined ? undefined : parseWith(partialSchema, json('partial', meta.partial), `${where}: metadata 'partial'`, ArtifactError);
  return { history, partial };
}
