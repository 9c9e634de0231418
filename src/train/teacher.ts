// Distillation: a teacher run's softened predictions as the targets of a
// student's batches.
import type { Manifest } from '../artifacts/contract.ts';
import { gatherExamples } from '../data/batches.ts';
import type { Dataset } from '../data/dataset.ts';
import { LossgraphError } from '../errors.ts';
import { loadTrainingSession } from '../runtime/node.ts';
import type { ExecutionProvider } from '../runtime/session.ts';
import type { TrainBatch, TrainingSession } from '../runtime/training.ts';

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
