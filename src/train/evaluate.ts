// Scoring a model on a split (the eval graph's loss and predictions, turned
// into metrics), the per-epoch record a run keeps, and the best epoch of it.
import { gatherExamples } from '../data/batches.ts';
import type { Dataset } from '../data/dataset.ts';
import { LossgraphError } from '../errors.ts';
import type { TrainingSession } from '../runtime/training.ts';
import { computeMetrics, multiLabelMetrics, regressionMetrics, type Metrics } from './metrics.ts';
import type { TeacherTargets } from './teacher.ts';

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
