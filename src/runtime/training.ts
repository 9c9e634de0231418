// Runs a training-step graph: feeds a batch and the current parameters, and
// keeps the updated parameters as runtime tensors for the next step, so no
// parameter is copied element by element in JavaScript between steps.
import type { ParamSpec } from '../models/params.ts';
import { Session, type OrtTensor, type SessionOptions } from './session.ts';

export interface StepNames {
  batch: string;
  labels: string;
  lr: string;
  loss: string;
  logits: string;
  updated: (param: string) => string;
}

export class TrainingSession {
  private params: OrtTensor[];
  private readonly fetches: string[];
  private readonly hyper = new Map<string, OrtTensor>();

  private constructor(
    readonly session: Session,
    private readonly specs: readonly ParamSpec[],
    initial: readonly Float32Array[],
    private readonly names: StepNames,
    hyperparameters: readonly { name: string; default: number }[],
  ) {
    this.params = initial.map((d, i) => session.tensor('float32', d, specs[i]!.shape));
    this.fetches = [names.loss, ...specs.map((p) => names.updated(p.name))];
    for (const h of hyperparameters) this.setHyperparameter(h.name, h.default);
  }

  static async create(
    model: Uint8Array | string,
    specs: readonly ParamSpec[],
    initial: readonly Float32Array[],
    names: StepNames,
    opts: SessionOptions & { hyperparameters?: readonly { name: string; default: number }[] } = {},
  ) {
    return new TrainingSession(await Session.create(model, opts), specs, initial, names, opts.hyperparameters ?? []);
  }

  /** Changes a loss hyperparameter (sigma's per-epoch decay, say) from the next step on; no rebuild. */
  setHyperparameter(name: string, value: number): void {
    this.hyper.set(name, this.session.tensor('float32', new Float32Array([value]), []));
  }

  /** One step on a batch; returns the loss before the update. */
  async runTrainStep(images: Float32Array, imageDims: readonly number[], labels: BigInt64Array, lr: number): Promise<number> {
    const s = this.session;
    const feeds: Record<string, OrtTensor> = {
      [this.names.batch]: s.tensor('float32', images, imageDims),
      [this.names.labels]: s.tensor('int64', labels, [labels.length]),
      [this.names.lr]: s.tensor('float32', new Float32Array([lr]), []),
    };
    for (const [name, t] of this.hyper) feeds[name] = t;
    this.specs.forEach((p, i) => (feeds[p.name] = this.params[i]!));
    const out = await s.run(feeds, this.fetches);
    this.params = this.specs.map((p) => out[this.names.updated(p.name)]!);
    return (out[this.names.loss]!.data as Float32Array)[0]!;
  }

  /** Current parameter values (views of the runtime's tensors). */
  parameters(): Float32Array[] {
    return this.params.map((t) => t.data as Float32Array);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
