// A training run's configuration (what run.json holds; run_schema.ts
// validates it where it is read back), its defaults, and the values derived
// from it before training: steps per run, balanced class weights.
import type { Augment } from '../data/batches.ts';
import type { Dataset } from '../data/dataset.ts';
import type { DataOptions } from '../data/index.ts';
import { LossgraphError } from '../errors.ts';
import type { Target } from '../graph/graph.ts';
import type { ExecutionProvider } from '../runtime/session.ts';

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

/** Class weights n / (K n_k) from the labels of `indices` (scikit-learn's 'balanced'); a class with no example gets 0. */
export function balancedClassWeights(d: Dataset, indices: Int32Array): number[] {
  const k = d.classNames.length;
  const counts = new Array<number>(k).fill(0);
  for (const i of indices) counts[d.labels[i]!]!++;
  return counts.map((c) => (c === 0 ? 0 : indices.length / (k * c)));
}
