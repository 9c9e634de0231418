// The deployment page: classifies images with the exported inference model in
// onnxruntime-web (WebGPU on a hardware adapter, wasm otherwise) and
// fine-tunes in a Web Worker on classes a person labels: from files, drops,
// pastes or the webcam. It loads no part of lossgraph's compiler: the
// worker does, and only when fine-tuning starts. Images are decoded in a
// worker of their own, so a 24-megapixel photo never freezes the page.
import { FILES, TENSORS } from '../src/artifacts/contract.ts';
import { pixelsToTensor } from '../src/data/pixels.ts';
import { Session } from '../src/runtime/session.ts';
import type { BackendChoice, BundleMeta, FromWorker } from '../src/artifacts/web_bundle.ts';
import { renderCards } from './cards.ts';
import { curvesChart, type CurvePoint } from './charts.ts';
import { Decoder } from './decoder.ts';
import { FineTuner, type ClassSet } from './finetune.ts';
import { LabelledSet, stack } from './labels.ts';
import { chooseBackend, loadRuntime, type Ort } from './load.ts';
import { drawTensor, tensorThumbnail } from './pictures.ts';
import { describePrediction, renderPrediction, type Prediction } from './prediction.ts';
import { Webcam } from './webcam.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const base = new URL('./', location.href).href;
const modelBase = `${base}model/`;

function showError(message: string): void {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
}

function clearError(): void {
  $('error').hidden = true;
}

/** Up to this many classes, each has a card; beyond, cards are picked from a list. */
const CARDS_FOR_ALL = 12;

/** A newer image was chosen while this one was decoding: its result is not shown. */
class Superseded extends Error {}

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

class App {
  meta!: BundleMeta;
  session!: Session;
  backend = 'wasm';
  /** Why the page is not on WebGPU, when it is not. */
  backendNote = '';
  threads = 1;
  readonly ready: Promise<void>;
  /** Milliseconds since navigation at each loading stage, for the load benchmark (bench/page_load.ts). */
  readonly timings: Record<string, number> = {};
  private choice!: BackendChoice;
  private ort!: Ort;
  private decoder!: Decoder;
  private tuner!: FineTuner;
  /** The bundle's own inference session, kept so Reset can bring it back. */
  private bundleSession!: Session;
  /** The classes being labelled (the model's, or new ones), and the images labelled for them. */
  private classNames: string[] = [];
  private classSet: ClassSet = { mode: 'existing' };
  readonly labelled = new LabelledSet();
  /** The names of the classes the classify panel's model predicts, and whether they are the bundle's (whose ordinal values and hierarchy apply). */
  private predictedNames: string[] = [];
  private ownClasses = true;
  /** The image last shown in the classify panel (its model input), which a training run previews. */
  private shown?: Float32Array;
  private shownSeq = 0;
  private training = false;
  private history: CurvePoint[] = [];
  /** The model of the last fine-tuning that finished with finite weights: what the downloads save. */
  private lastExport?: { checkpoint: Uint8Array; inference: Uint8Array; accuracy: number };
  private readonly webcam = new Webcam($('webcam-video') as HTMLVideoElement);
  /** Classes given a card from the list (when there are too many to show them all). */
  private readonly picked = new Set<number>();
  /** The class the camera's captures go to. */
  private webcamLabel = 0;

  constructor() {
    this.ready = this.load().catch((e: Error) => {
      showError(`The model failed to load: ${e.message}`);
      throw e;
    });
  }

  private async load(): Promise<void> {
    if (typeof WebAssembly !== 'object') throw new Error('this browser has no WebAssembly, which onnxruntime-web needs');
    const isolated = globalThis.crossOriginIsolated === true;
    const wanted = params.get('threads');
    this.threads = wanted ? Math.max(1, Number(wanted)) : isolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    $('isolated').textContent = isolated ? 'yes' : 'no (single-threaded wasm)';
    $('threads').textContent = String(this.threads);
    const metaResponse = await fetch(`${modelBase}meta.json`);
    if (!metaResponse.ok) throw new Error(`model/meta.json: ${metaResponse.status} ${metaResponse.statusText}`);
    this.meta = (await metaResponse.json()) as BundleMeta;
    this.timings.metaLoaded = performance.now();
    this.decoder = new Decoder(new URL(this.meta.assets.decoder, base));
    this.choice = await chooseBackend(this.meta, params.get('backend'));
    this.backendNote = this.choice.why;
    const gpuFolder = 'folder' in this.meta.webgpu ? this.meta.webgpu.folder : '';
    const model = `model/${this.choice.webgpu ? gpuFolder : ''}${FILES.inference}`;
    const { ort, model: bytes, countGlue } = await loadRuntime({
      bundle: base, meta: this.meta, choice: this.choice, model, threads: this.threads,
      bar: (loaded, total) => {
        ($('load-progress') as HTMLProgressElement).value = loaded / total;
        $('load-text').textContent = `${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`;
      },
    });
    this.ort = ort;
    this.timings.downloaded = performance.now();
    if (this.choice.webgpu) {
      try {
        this.session = await Session.create(bytes, { runtime: 'web', ort, providers: ['webgpu'] });
        this.backend = 'webgpu';
      } catch (e) {
        this.backendNote = e instanceof Error ? e.message : String(e);
      }
    }
    if (this.backend !== 'webgpu') {
      const wasmModel = this.choice.webgpu ? new Uint8Array(await (await fetch(`${modelBase}${FILES.inference}`)).arrayBuffer()) : bytes;
      this.session = await Session.create(wasmModel, { runtime: 'web', ort, providers: ['wasm'] });
    }
    this.bundleSession = this.session;
    countGlue();
    this.timings.sessionCreated = performance.now();
    // One run on zeros: the first real prediction then costs what every later one does.
    const p = this.meta.preprocess;
    await this.session.run({ [TENSORS.input]: this.session.tensor('float32', new Float32Array(p.channels * p.height * p.width), [1, p.channels, p.height, p.width]) });
    this.timings.warmedUp = performance.now();
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
    $('backend').textContent = this.backend + (this.backendNote ? ` (${this.backendNote})` : '');
    $('input-size').textContent = `${p.channels}×${p.height}×${p.width}`;
    $('model-line').textContent = `Model ${this.meta.run.model}, loss ${this.meta.run.loss}, trained on ${this.meta.run.data}; ${this.meta.classes.length} classes.`;
    this.renderSamples();
    this.predictedNames = [...this.meta.classes];
    this.setClasses({ mode: 'existing' });
  }

  private get shape(): [number, number, number] {
    const p = this.meta.preprocess;
    return [p.channels, p.height, p.width];
  }

  /** The model's input for an image file's bytes: the same decoder and steps as the Node loader, in the decoder worker. */
  async preprocess(bytes: Uint8Array): Promise<Float32Array> {
    await this.ready;
    const p = this.meta.preprocess;
    return (await this.decoder.decode(bytes, { width: p.width, height: p.height, channels: p.channels })).tensor;
  }

  /** Classifies an image file's bytes; `name` is the file's, for messages. */
  async classify(bytes: Uint8Array, name = 'the image'): Promise<Prediction> {
    const seq = ++this.shownSeq;
    // The previous result goes at once: it must never stand beside another file's name.
    this.clearPrediction(`Reading ${name} (${(bytes.length / 1e6).toFixed(1)} MB)…`);
    await this.ready;
    let decoded: { tensor: Float32Array; width: number; height: number };
    try {
      decoded = await this.decoder.decode(bytes, { width: this.meta.preprocess.width, height: this.meta.preprocess.height, channels: this.meta.preprocess.channels });
    } catch {
      if (seq === this.shownSeq) $('timing').textContent = '';
      throw new Error(`${name}: not an image the page can read (JPEG, PNG, BMP, GIF, WebP or TIFF)`);
    }
    if (seq !== this.shownSeq) throw new Superseded(`${name} was replaced by a newer image`);
    return this.classifyTensor(decoded.tensor, `${decoded.width}×${decoded.height}`);
  }

  /** Classifies a model input with the panel's current model (the bundle's, or the last fine-tuned one). */
  private async classifyTensor(x: Float32Array, sourceSize?: string): Promise<Prediction> {
    this.shown = x;
    if (this.training) this.tuner.preview(x);
    drawTensor($('preprocessed') as HTMLCanvasElement, x, this.shape);
    const t0 = performance.now();
    const out = await this.session.run({ [TENSORS.input]: this.session.tensor('float32', x, [1, ...this.shape]) });
    const ms = performance.now() - t0;
    const probabilities = (out[TENSORS.probabilities] ?? out[TENSORS.scores])!.data as Float32Array;
    const expected = out[TENSORS.expectedClass]?.data as Float32Array | undefined;
    const result = describePrediction(probabilities, this.predictedNames, {
      classIndex: Number((out[TENSORS.class]!.data as BigInt64Array)[0]),
      ms,
      ...(this.ownClasses ? { meta: this.meta } : {}),
      ...(expected ? { expected: expected[0]! } : {}),
    });
    $('timing').textContent = `Inference: ${ms.toFixed(1)} ms on ${this.backend}${sourceSize ? ` (a ${sourceSize} image)` : ''}`;
    $('preview-note').textContent = '';
    this.show(result);
    return result;
  }

  private show(r: Prediction): void {
    renderPrediction(r, this.predictedNames, this.ownClasses ? this.meta.ordinal?.unit : undefined, { topk: $('topk'), coarse: $('coarse'), expected: $('expected'), distribution: $('distribution') });
  }

  private clearPrediction(status: string): void {
    for (const id of ['topk', 'coarse', 'expected', 'distribution', 'preview-note']) $(id).replaceChildren();
    const canvas = $('preprocessed') as HTMLCanvasElement;
    canvas.getContext('2d')!.clearRect(0, 0, canvas.width, canvas.height);
    $('timing').textContent = status;
  }

  private renderSamples(): void {
    $('samples').replaceChildren(...this.meta.samples.map((s) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.title = `sample: ${s.label}`;
      b.setAttribute('aria-label', `classify the sample image of ${s.label}`);
      const img = document.createElement('img');
      img.src = s.file;
      img.alt = s.label;
      b.append(img);
      b.onclick = () => this.classifyUrl(s.file, `the sample of ${s.label}`);
      return b;
    }));
  }

  async classifyUrl(url: string, name?: string): Promise<void> {
    await this.run(async () => this.classify(new Uint8Array(await (await fetch(url)).arrayBuffer()), name));
  }

  /** Runs `f`, showing its error on the page (a superseded image is not an error). */
  async run<T>(f: () => Promise<T>): Promise<T | undefined> {
    clearError();
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof Superseded)) showError((e as Error).message);
      return undefined;
    }
  }

  // --- the classes and their images ----------------------------------------

  /**
   * The classes to label and train: the model's, or new ones. Images keep
   * their class by position (renaming a class keeps its images); images of
   * classes that no longer exist are dropped, and the page says so.
   */
  setClasses(classes: ClassSet): void {
    const names = classes.mode === 'new' ? classes.classes : this.meta.classes;
    if (classes.mode === 'new' && names.length < 2) throw new Error(`name at least 2 classes, separated by commas (got ${names.length})`);
    if (new Set(names).size !== names.length) throw new Error(`class names must differ: ${names.join(', ')}`);
    const dropped = this.labelled.keepClasses(names.length);
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
    $('model-line').textContent = `Model ${this.meta.run.model}, loss ${this.meta.run.loss}, trained on ${this.meta.run.data}; ${this.meta.classes.length} classes.`;
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
    const x = pixelsToTensor(this.webcam.frame(), { width: this.meta.preprocess.width, height: this.meta.preprocess.height, channels: this.meta.preprocess.channels });
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

const app = new App();
(globalThis as unknown as { lossgraph: App }).lossgraph = app;

const fileName = (f: File) => f.name || 'the pasted image';
const readFile = async (f: File) => new Uint8Array(await f.arrayBuffer());

$('file').addEventListener('change', async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) await app.run(async () => app.classify(await readFile(f), fileName(f)));
});
const drop = $('drop');
drop.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') $('file').click();
});
drop.addEventListener('click', () => $('file').click());
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) await app.run(async () => app.classify(await readFile(f), fileName(f)));
});
// A paste goes to the class card that has the focus, else to the classify panel.
document.addEventListener('paste', async (e) => {
  const files = [...(e.clipboardData?.files ?? [])];
  if (!files.length) return;
  const card = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('.card');
  if (card) await app.run(async () => app.addImages(await Promise.all(files.map(async (f) => ({ bytes: await readFile(f), label: Number(card.dataset.label), name: fileName(f) })))));
  else await app.run(async () => app.classify(await readFile(files[0]!), fileName(files[0]!)));
});
// The class set follows the form as it changes: the radio, and the names as they are typed.
const followForm = () => app.run(async () => app.setClasses(app.classesFromForm()));
for (const r of document.querySelectorAll<HTMLInputElement>('input[name=mode]')) r.addEventListener('change', followForm);
$('new-classes').addEventListener('input', () => {
  if (app.classesFromForm().mode === 'new') void followForm();
});
$('loss-spec').addEventListener('change', followForm);
$('start').addEventListener('click', () => app.run(async () => {
  app.setClasses(app.classesFromForm());
  return app.finetune({
    steps: Number(($('steps') as HTMLInputElement).value),
    batch: Number(($('batch') as HTMLInputElement).value),
    lr: Number(($('lr') as HTMLInputElement).value),
  });
}));
$('stop').addEventListener('click', () => app.stop());
$('pick-class').addEventListener('change', (e) => {
  const select = e.target as HTMLSelectElement;
  if (select.value !== '') app.pickClass(Number(select.value));
});
$('reset').addEventListener('click', () => app.run(() => app.reset()));
$('download-checkpoint').addEventListener('click', () => app.run(() => app.download('checkpoint')));
$('download-model').addEventListener('click', () => app.run(() => app.download('inference')));
// The capture button: a click takes one frame; held down, a frame every 150 ms until released.
let burst: ReturnType<typeof setInterval> | undefined;
const endBurst = () => {
  clearInterval(burst);
  burst = undefined;
};
$('capture').addEventListener('pointerdown', () => {
  void app.run(async () => app.captureFrame());
  burst = setInterval(() => void app.run(async () => app.captureFrame()), 150);
});
for (const ev of ['pointerup', 'pointerleave', 'pointercancel']) $('capture').addEventListener(ev, endBurst);
$('capture').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') void app.run(async () => app.captureFrame());
});
$('webcam-close').addEventListener('click', () => app.closeWebcam());
