// The page's side of the fine-tuning worker: starts it on a set of classes
// (the model's, or new ones with a typed loss spec), restarts it when the
// classes change, sends a training run and collects its steps, and asks for
// the trained model. The worker itself is web/worker.ts.
import type { BackendChoice, FromWorker, ToWorker } from './messages.ts';

export type ClassSet = { mode: 'existing' } | { mode: 'new'; classes: string[]; loss: string };
export type Ready = Extract<FromWorker, { type: 'ready' }>;
type Step = Extract<FromWorker, { type: 'step' }>;
type Done = Extract<FromWorker, { type: 'done' }>;
type Exported = Extract<FromWorker, { type: 'exported' }>;

const keyOf = (c: ClassSet) => JSON.stringify(c);

export class FineTuner {
  private worker?: Worker;
  private startedFor?: string;
  private readyPromise?: Promise<Ready>;
  private readonly listeners = new Set<(m: FromWorker) => void>();

  constructor(private readonly o: {
    workerUrl: URL;
    modelBase: string;
    wasmBase: string;
    choice: BackendChoice;
    threads: number;
    /** Every message, for the page's status line and chart. */
    onMessage(m: FromWorker): void;
    onCrash(message: string): void;
  }) {}

  /** Whether the running worker trains `classes` (so its model, and any training so far, can be kept). */
  runs(classes: ClassSet): boolean {
    return this.worker !== undefined && this.startedFor === keyOf(classes);
  }

  /** Starts a worker on `classes`, ending any other; resolves once its model is loaded. */
  start(classes: ClassSet): Promise<Ready> {
    this.terminate();
    const worker = new Worker(this.o.workerUrl, { type: 'module' });
    this.worker = worker;
    this.startedFor = keyOf(classes);
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      for (const l of this.listeners) l(e.data);
      this.o.onMessage(e.data);
    };
    worker.onerror = (e) => this.o.onCrash(`Fine-tuning worker failed: ${e.message}`);
    const ready = this.next('ready');
    const webgpuFolder = classes.mode === 'existing' ? this.webgpuFolder : undefined;
    worker.postMessage({ type: 'init', ...classes, ...(webgpuFolder ? { webgpuFolder } : {}), modelBase: this.o.modelBase, wasmBase: this.o.wasmBase, choice: this.o.choice, threads: this.o.threads } as ToWorker);
    this.readyPromise = ready;
    // A worker that failed to start is not kept: the next Start tries again.
    ready.catch(() => {
      if (this.worker === worker) this.terminate();
    });
    return ready;
  }

  /** The bundle's WebGPU graphs, for the model's own classes. */
  webgpuFolder?: string;

  get ready(): Promise<Ready> | undefined {
    return this.readyPromise;
  }

  /** One training run; resolves when it ends (all steps, Stop, or a non-finite loss), with every step's report. */
  async train(run: Extract<ToWorker, { type: 'train' }>): Promise<{ steps: Step[]; done: Done }> {
    if (!this.worker) throw new Error('the fine-tuning worker is not started');
    await this.readyPromise;
    const steps: Step[] = [];
    const collect = (m: FromWorker) => {
      if (m.type === 'step') steps.push(m);
    };
    this.listeners.add(collect);
    try {
      const done = this.next('done');
      this.worker.postMessage(run, [run.images.buffer, run.labels.buffer]);
      return { steps, done: await done };
    } finally {
      this.listeners.delete(collect);
    }
  }

  /** The image whose prediction each step reports (the classify panel's), or none. */
  preview(image?: Float32Array): void {
    this.worker?.postMessage({ type: 'preview', ...(image ? { image } : {}) } satisfies ToWorker);
  }

  stop(): void {
    this.worker?.postMessage({ type: 'stop' } satisfies ToWorker);
  }

  /** The trained checkpoint and inference model. */
  async export(): Promise<Exported> {
    if (!this.worker) throw new Error('fine-tune first');
    const got = this.next('exported');
    this.worker.postMessage({ type: 'export' } satisfies ToWorker);
    return got;
  }

  terminate(): void {
    // Whoever waits on this worker hears that it is gone, rather than waiting forever.
    for (const l of [...this.listeners]) l({ type: 'error', message: 'the fine-tuning worker was stopped' });
    this.worker?.terminate();
    this.worker = undefined;
    this.startedFor = undefined;
    this.readyPromise = undefined;
  }

  private next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve, reject) => {
      const l = (m: FromWorker) => {
        if (m.type !== type && m.type !== 'error') return;
        this.listeners.delete(l);
        if (m.type === 'error') reject(new Error(m.message));
        else resolve(m as Extract<FromWorker, { type: T }>);
      };
      this.listeners.add(l);
    });
  }
}

/** Fine-tuning settings a person can type: whole steps and batch, a positive finite learning rate. */
export function checkSettings(o: { steps: number; batch: number; lr: number }): void {
  if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > 100000) throw new Error(`steps must be a whole number from 1 to 100000, got ${o.steps}`);
  if (!Number.isInteger(o.batch) || o.batch < 1 || o.batch > 4096) throw new Error(`batch must be a whole number from 1 to 4096, got ${o.batch}`);
  if (!Number.isFinite(o.lr) || o.lr <= 0 || o.lr > 10) throw new Error(`the learning rate must be above 0 and at most 10, got ${o.lr}`);
}

export interface FinetuneResult {
  losses: number[];
  accuracy: number;
  /** Accuracy on the held-back images after the last step, when some were held back. */
  validation?: number;
  stepsPerSecond: number;
  medianStepMs: number;
  stopped: boolean;
  backend?: string;
  stateOn: string[];
}
