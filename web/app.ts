// The fine-tuning panel, on top of the classify panel: classes as cards
// (the model's, or new ones with a typed loss spec), images from files,
// drops, pastes or the webcam, a training run in the worker (finetune.ts)
// with held-back accuracy and a live preview in the classify panel, and the
// downloads of the trained model.
import type { FromWorker } from './messages.ts';
import { pixelsToTensor } from '../src/data/pixels.ts';
import { Session } from '../src/runtime/session.ts';
import { renderCards } from './cards.ts';
import { curvesChart, type CurvePoint } from './charts.ts';
import { Classifier } from './classifier.ts';
import { $, base, modelBase, showError } from './dom.ts';
import { FineTuner, checkSettings, type ClassSet, type FinetuneResult } from './finetune.ts';
import { LabelledSet, stack } from './labels.ts';
import { tensorThumbnail } from './pictures.ts';
import { describePrediction } from './prediction.ts';
import { Webcam } from './webcam.ts';

/** Up to this many classes, each has a card; beyond, cards are picked from a list. */
const CARDS_FOR_ALL = 12;

export class App extends Classifier {
  private tuner!: FineTuner;
  /** The classes being labelled (the model's, or new ones), and the images labelled for them. */
  private classNames: string[] = [];
  private classSet: ClassSet = { mode: 'existing' };
  readonly labelled = new LabelledSet();
  private training = false;
  private history: CurvePoint[] = [];
  /** The model of the last fine-tuning that finished with finite weights: what the downloads save. */
  private lastExport?: { checkpoint: Uint8Array; inference: Uint8Array; accuracy: number };
  private readonly webcam = new Webcam($('webcam-video') as HTMLVideoElement);
  /** Classes given a card from the list (when there are too many to show them all). */
  private readonly picked = new Set<number>();
  /** The class the camera's captures go to. */
  private webcamLabel = 0;

  protected override loaded(): void {
    this.tuner = new FineTuner({
      workerUrl: new URL(this.meta.assets.worker, base),
      modelBase,
      wasmBase: `${base}${this.meta.assets.ort}`,
      choice: this.choice,
      threads: this.threads,
      onMessage: (m) => this.onWorker(m),
      onCrash: showError,
    });
    if ('folder' in this.meta.webgpu) this.tuner.webgpuFolder = this.meta.webgpu.folder;
    this.setClasses({ mode: 'existing' });
  }

  /** A training run previews its model on each image the classify panel shows. */
  protected override showing(x: Float32Array): void {
    if (this.training) this.tuner.preview(x);
  }

  // --- the classes and their images ----------------------------------------

  /**
   * The classes to label and train: the model's, or new ones. Images keep
   * their class by position (renaming a class keeps its images). Images of
   * classes that no longer exist are dropped, and the page says so; but not
   * while the names are being typed (`typing`): deleting a name to retype it
   * must not lose its images.
   */
  setClasses(classes: ClassSet, o: { typing?: boolean } = {}): void {
    const names = classes.mode === 'new' ? classes.classes : this.meta.classes;
    if (classes.mode === 'new' && names.length < 2) throw new Error(`name at least 2 classes, separated by commas (got ${names.length})`);
    if (new Set(names).size !== names.length) throw new Error(`class names must differ: ${names.join(', ')}`);
    const dropped = o.typing ? 0 : this.labelled.keepClasses(names.length);
    if (names.length !== this.classNames.length) this.picked.clear();
    this.classSet = classes;
    this.classNames = [...names];
    this.renderLabelled(dropped ? `(${dropped} image${dropped === 1 ? '' : 's'} of classes that no longer exist removed)` : '');
  }

  /** Starts the fine-tuning worker on `classes` now (Start does so by itself when needed). */
  async startWorker(classes: ClassSet): Promise<FromWorker & { type: 'ready' }> {
    await this.ready;
    this.setClasses(classes);
    const r = await this.tuner.start(classes);
    $('ft-backend').textContent = r.backend === 'webgpu' ? 'Fine-tuning runs on WebGPU (weights and optimizer state stay on the GPU).' : `Fine-tuning runs on wasm${r.why ? ` (${r.why})` : ''}.`;
    return r;
  }

  async addImages(files: { bytes: Uint8Array; label: number; name?: string }[]): Promise<number> {
    await this.ready;
    const bad: string[] = [];
    for (const f of files) {
      if (!(f.label >= 0 && f.label < this.classNames.length)) throw new Error(`no class ${f.label}: there are ${this.classNames.length}`);
      const x = await this.preprocess(f.bytes).catch(() => undefined);
      if (x) this.labelled.add(x, f.label, tensorThumbnail(x, this.shape));
      else bad.push(f.name ?? 'an image');
    }
    this.renderLabelled();
    if (bad.length) throw new Error(`${bad.join(', ')}: not ${bad.length === 1 ? 'an image' : 'images'} the page can read; the rest were added`);
    return this.labelled.size;
  }

  removeImage(id: number): void {
    this.labelled.remove(id);
    this.renderLabelled();
  }

  clearClass(label: number): void {
    this.labelled.clearClass(label);
    this.renderLabelled();
  }

  /** Back to the start: no labelled images, no fine-tuned model, the bundle's model in the classify panel. */
  async reset(): Promise<void> {
    this.tuner.terminate();
    this.webcam.close();
    $('webcam').hidden = true;
    this.labelled.clear();
    this.picked.clear();
    this.history = [];
    $('chart').replaceChildren();
    $('ft-status').textContent = '';
    this.lastExport = undefined;
    this.setDownloads();
    if (this.session !== this.bundleSession) {
      const old = this.session;
      this.session = this.bundleSession;
      await old.release().catch(() => undefined);
    }
    this.predictedNames = [...this.meta.classes];
    this.ownClasses = true;
    this.describeBundleModel();
    this.setClasses(this.classSet);
    if (this.shown) await this.classifyTensor(this.shown);
  }

  /**
   * Which classes get a card: all of them for up to CARDS_FOR_ALL classes;
   * beyond that (a model's 101 age classes) those with images and those
   * picked from the list, so the page does not grow a hundred empty cards.
   */
  private cardClasses(): number[] {
    const all = this.classNames.map((_, k) => k);
    const many = all.length > CARDS_FOR_ALL;
    $('pick-class-row').hidden = !many;
    if (!many) return all;
    const shown = all.filter((k) => this.picked.has(k) || this.labelled.ofClass(k).length > 0);
    const select = $('pick-class') as HTMLSelectElement;
    select.replaceChildren(Object.assign(document.createElement('option'), { value: '', textContent: `choose one of ${all.length}…` }), ...all.filter((k) => !shown.includes(k)).map((k) => Object.assign(document.createElement('option'), { value: String(k), textContent: this.classNames[k] })));
    return shown;
  }

  /** Shows a card for class `label` (used where not every class has one). */
  pickClass(label: number): void {
    this.picked.add(label);
    this.renderLabelled();
  }

  private renderLabelled(note = ''): void {
    renderCards($('cards'), this.classNames, this.cardClasses(), this.labelled, {
      addFiles: (label, files) => void this.run(async () => this.addImages(await Promise.all(files.map(async (f) => ({ bytes: new Uint8Array(await f.arrayBuffer()), label, name: f.name }))))),
      remove: (id) => this.removeImage(id),
      clear: (label) => this.clearClass(label),
      webcam: (label) => void this.run(() => this.openWebcam(label)),
    });
    const { train, validation } = this.labelled.split();
    $('ft-count').textContent = `${this.labelled.size} image${this.labelled.size === 1 ? '' : 's'}${validation.length ? `: ${train.length} to train on, ${validation.length} held back to check accuracy` : ''}${note ? ` ${note}` : ''}`;
  }

  // --- the webcam ----------------------------------------------------------

  async openWebcam(label: number): Promise<void> {
    await this.ready;
    this.webcamLabel = label;
    $('webcam').hidden = false;
    $('capture').textContent = `Capture to ${this.classNames[label]}`;
    await this.webcam.open();
  }

  /** Adds the camera's current frame to the class it was opened for. */
  captureFrame(): number {
    const x = pixelsToTensor(this.webcam.frame(), this.tensorSize);
    this.labelled.add(x, this.webcamLabel, tensorThumbnail(x, this.shape));
    this.renderLabelled();
    return this.labelled.size;
  }

  closeWebcam(): void {
    this.webcam.close();
    $('webcam').hidden = true;
  }

  // --- fine-tuning -----------------------------------------------------------

  private onWorker(m: FromWorker): void {
    if (m.type === 'error') showError(`Fine-tuning: ${m.message}`);
    if (m.type !== 'step') return;
    this.history.push({ step: m.step, loss: m.loss, accuracy: m.accuracy, ...(m.validation !== undefined ? { validation: m.validation } : {}) });
    $('ft-status').textContent = Number.isFinite(m.loss)
      ? `step ${m.step}: loss ${m.loss.toFixed(4)}, accuracy ${(100 * m.accuracy).toFixed(1)}% on the training images${m.validation !== undefined ? `, ${(100 * m.validation).toFixed(1)}% on the held-back ones` : ''} (${m.ms.toFixed(0)} ms/step)`
      : `step ${m.step}: the loss became ${m.loss}`;
    $('chart').innerHTML = curvesChart(this.history);
    // The classify panel previews the model being trained on the image it shows.
    if (m.preview && this.shown) {
      this.show(describePrediction(m.preview.probabilities, this.classNames, { classIndex: m.preview.classIndex, ms: 0, ...(this.sameAsBundle(this.classNames) ? { meta: this.meta } : {}), ...(m.preview.expected !== undefined ? { expected: m.preview.expected } : {}) }));
      $('preview-note').textContent = `Preview: the model being fine-tuned, after step ${m.step}.`;
    }
  }

  private sameAsBundle(names: readonly string[]): boolean {
    return names.length === this.meta.classes.length && names.every((c, i) => c === this.meta.classes[i]);
  }

  private setDownloads(): void {
    for (const id of ['download-checkpoint', 'download-model']) ($(id) as HTMLButtonElement).disabled = this.training || !this.lastExport;
  }

  async finetune(o: { steps: number; batch: number; lr: number }): Promise<FinetuneResult> {
    checkSettings(o);
    await this.ready;
    if (this.labelled.size === 0) throw new Error('add a few labelled images first');
    const { train, validation } = this.labelled.split();
    // A new worker only when the classes (or the loss) changed: otherwise training goes on from where it is.
    if (!this.tuner.runs(this.classSet)) await this.startWorker(this.classSet);
    this.training = true;
    this.lastExport = undefined;
    this.setDownloads();
    ($('start') as HTMLButtonElement).disabled = true;
    ($('stop') as HTMLButtonElement).disabled = false;
    this.history = [];
    try {
      const { steps, done } = await this.tuner.train({
        type: 'train', ...stack(train),
        ...(validation.length ? { validation: stack(validation) } : {}),
        ...(this.shown ? { preview: this.shown } : {}),
        steps: o.steps, batch: o.batch, lr: o.lr,
      });
      if (done.diverged) {
        // The worker is back at the model it had before this run; the panel keeps showing that one.
        throw new Error(`Fine-tuning stopped at step ${done.diverged.step}: the loss became ${done.diverged.loss}. The model was not changed; try a lower learning rate.`);
      }
      await this.useFinetuned(steps.at(-1)?.accuracy ?? NaN);
      const ms = steps.map((s) => s.ms).sort((a, b) => a - b);
      const last = steps.at(-1);
      return {
        losses: steps.map((s) => s.loss), accuracy: last?.accuracy ?? NaN, ...(last?.validation !== undefined ? { validation: last.validation } : {}),
        // stepsPerSecond counts the whole loop (each step is followed by an evaluation of every labelled image); medianStepMs is the training step alone.
        stepsPerSecond: done.stepsPerSecond, medianStepMs: ms[Math.floor(ms.length / 2)] ?? NaN, stopped: done.stopped,
        backend: (await this.tuner.ready)?.backend, stateOn: steps.map((s) => s.stateOn),
      };
    } finally {
      this.training = false;
      ($('start') as HTMLButtonElement).disabled = false;
      ($('stop') as HTMLButtonElement).disabled = true;
      this.setDownloads();
    }
  }

  /** The fine-tuned model becomes the classify panel's: exported from the worker, opened as the inference session. */
  private async useFinetuned(accuracy: number): Promise<void> {
    const r = await this.exportTrained();
    let session: Session | undefined;
    if (this.backend === 'webgpu') session = await Session.create(r.inference, { runtime: 'web', ort: this.ort, providers: ['webgpu'] }).catch(() => undefined);
    session ??= await Session.create(r.inference, { runtime: 'web', ort: this.ort, providers: ['wasm'] });
    const old = this.session;
    this.session = session;
    if (old !== this.bundleSession) await old.release().catch(() => undefined);
    this.predictedNames = [...this.classNames];
    this.ownClasses = this.sameAsBundle(this.classNames);
    $('model-line').textContent = `Fine-tuned in this page (${this.classNames.length} classes: ${this.classNames.join(', ')}); accuracy on the training images ${(100 * accuracy).toFixed(1)}%.`;
    if (this.shown) await this.classifyTensor(this.shown);
  }

  stop(): void {
    this.tuner.stop();
  }

  /** The fine-tuned checkpoint and inference model, as the download buttons save them. */
  async exportTrained(): Promise<{ checkpoint: Uint8Array; inference: Uint8Array; accuracy: number }> {
    const r = await this.tuner.export();
    this.lastExport = r;
    return r;
  }

  async download(which: 'checkpoint' | 'inference'): Promise<void> {
    const r = this.lastExport;
    if (!r) throw new Error('fine-tune first: the download is the model of the last finished fine-tuning');
    const bytes = which === 'checkpoint' ? r.checkpoint : r.inference;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
    a.download = which === 'checkpoint' ? 'finetuned.safetensors' : 'finetuned_inference_model.onnx';
    document.body.append(a);
    a.click();
    a.remove();
  }

  /** The classes the form asks for: the model's, or the typed names with the typed loss. */
  classesFromForm(): ClassSet {
    const mode = document.querySelector<HTMLInputElement>('input[name=mode]:checked')?.value;
    if (mode !== 'new') return { mode: 'existing' };
    return { mode: 'new', classes: ($('new-classes') as HTMLInputElement).value.split(',').map((c) => c.trim()).filter(Boolean), loss: ($('loss-spec') as HTMLInputElement).value.trim() };
  }
}
