// The deployment page: classifies images with the exported inference model in
// onnxruntime-web (WebGPU when the browser offers it, wasm otherwise) and
// fine-tunes in a Web Worker. It loads no part of lossgraph's compiler: the
// worker does, and only when fine-tuning starts.
import { FILES, TENSORS } from '../src/artifacts/contract.ts';
import { pixelsToTensor } from '../src/data/pixels.ts';
import { decodePixels } from './decode.ts';
import { chooseBackend, loadRuntime, type Ort } from './load.ts';
import { Session } from '../src/runtime/session.ts';
import type { BackendChoice, BundleMeta, FromWorker, ToWorker } from '../src/artifacts/web_bundle.ts';

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

interface Prediction {
  top: { index: number; name: string; probability: number }[];
  probabilities: number[];
  classIndex: number;
  expected?: number;
  expectedUnit?: number;
  coarse?: Record<string, string>;
  ms: number;
}

class App {
  meta!: BundleMeta;
  session!: Session;
  backend = 'wasm';
  /** The onnxruntime-web build the page loaded, and why it is not on WebGPU when it is not. */
  private choice!: BackendChoice;
  private ort!: Ort;
  /** Why the page is not on WebGPU, when it is not. */
  backendNote = '';
  /** Where fine-tuning runs, once the worker is ready. */
  trainingBackend?: string;
  threads = 1;
  readonly ready: Promise<void>;
  /** Milliseconds since navigation at each loading stage, for the load benchmark (bench/page_load.ts). */
  readonly timings: Record<string, number> = {};
  private worker?: Worker;
  private workerReady?: Promise<void>;
  private workerListeners = new Set<(m: FromWorker) => void>();
  private ftImages: Float32Array[] = [];
  private ftLabels: number[] = [];
  /** The last fine-tuned model, exported once its training finished; cleared when training starts again. */
  private lastExport?: { checkpoint: Uint8Array; inference: Uint8Array; accuracy: number };
  /** The classes the worker's model (and, after fine-tuning, the classify panel) predicts. */
  private classNames: string[] = [];
  /** Whether the classify panel shows the bundle's model (whose ordinal values and hierarchy apply) or a fine-tuned new-class one. */
  private ownClasses = true;
  private history: { step: number; loss: number; accuracy: number }[] = [];

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
    countGlue();
    this.timings.sessionCreated = performance.now();
    // One run on zeros: the first real prediction then costs what every later one does.
    const p = this.meta.preprocess;
    await this.session.run({ [TENSORS.input]: this.session.tensor('float32', new Float32Array(p.channels * p.height * p.width), [1, p.channels, p.height, p.width]) });
    this.timings.warmedUp = performance.now();
    $('backend').textContent = this.backend + (this.backendNote ? ` (${this.backendNote})` : '');
    $('input-size').textContent = `${p.channels}×${p.height}×${p.width}`;
    $('model-line').textContent = `Model ${this.meta.run.model}, loss ${this.meta.run.loss}, trained on ${this.meta.run.data}; ${this.meta.classes.length} classes.`;
    this.renderSamples();
    this.classNames = [...this.meta.classes];
    this.predictedNames = [...this.meta.classes];
    this.renderLabelChoices(this.classNames);
  }

  /** The model's input for an image file's bytes: the same decoder and steps as the Node loader. */
  async preprocess(bytes: Uint8Array): Promise<Float32Array> {
    const p = this.meta.preprocess;
    return pixelsToTensor(await decodePixels(bytes), { width: p.width, height: p.height, channels: p.channels });
  }

  async classify(bytes: Uint8Array): Promise<Prediction> {
    await this.ready;
    const p = this.meta.preprocess;
    let x: Float32Array;
    try {
      x = await this.preprocess(bytes);
    } catch {
      throw new Error('this file is not an image the page can read (JPEG, PNG, BMP, GIF or TIFF)');
    }
    this.drawInput(x);
    const t0 = performance.now();
    const out = await this.session.run({ [TENSORS.input]: this.session.tensor('float32', x, [1, p.channels, p.height, p.width]) });
    const ms = performance.now() - t0;
    const probs = Array.from((out[TENSORS.probabilities] ?? out[TENSORS.scores])!.data as Float32Array);
    const classIndex = Number((out[TENSORS.class]!.data as BigInt64Array)[0]);
    const order = probs.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const result: Prediction = {
      top: order.slice(0, Math.min(5, probs.length)).map(([v, i]) => ({ index: i, name: this.predictedNames[i] ?? String(i), probability: v })),
      probabilities: probs,
      classIndex,
      ms,
    };
    const expected = out[TENSORS.expectedClass]?.data as Float32Array | undefined;
    if (expected && this.ownClasses) {
      result.expected = expected[0]!;
      const v = this.meta.ordinal?.values;
      if (v) {
        const lo = Math.floor(result.expected);
        const hi = Math.min(lo + 1, v.length - 1);
        result.expectedUnit = v[lo]! + (result.expected - lo) * (v[hi]! - v[lo]!);
      }
    }
    if (this.meta.hierarchy && this.ownClasses) {
      result.coarse = Object.fromEntries(Object.entries(this.meta.hierarchy).map(([level, h]) => [level, h.names[h.groups[classIndex]!] ?? String(h.groups[classIndex])]));
    }
    this.renderPrediction(result);
    return result;
  }

  /** The names of the classes the classify panel's model predicts. */
  private predictedNames: string[] = [];

  private drawInput(x: Float32Array): void {
    const { channels, height, width } = this.meta.preprocess;
    const canvas = $('preprocessed') as HTMLCanvasElement;
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(width, height);
    const plane = width * height;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) img.data[4 * i + c] = Math.round(255 * x[(channels === 3 ? c : 0) * plane + i]!);
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  private renderPrediction(r: Prediction): void {
    $('timing').textContent = `Inference: ${r.ms.toFixed(1)} ms on ${this.backend}`;
    const list = $('topk');
    list.replaceChildren(...r.top.map((t) => {
      const li = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.max(1, Math.round(200 * t.probability))}px`;
      li.append(bar, `${t.name}: ${(100 * t.probability).toFixed(1)}%`);
      return li;
    }));
    $('coarse').textContent = r.coarse ? Object.entries(r.coarse).map(([l, g]) => `${l}: ${g}`).join(', ') : '';
    const unit = this.meta.ordinal?.unit;
    $('expected').textContent = r.expected === undefined ? '' : `Expected value: ${r.expectedUnit !== undefined ? `${r.expectedUnit.toFixed(1)} ${unit}` : `class ${r.expected.toFixed(2)}`}`;
    $('distribution').innerHTML = r.expected === undefined ? '' : barChart(r.probabilities, this.predictedNames);
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
      b.onclick = () => this.classifyUrl(s.file);
      return b;
    }));
  }

  renderLabelChoices(classes: string[]): void {
    $('label-for').replaceChildren(...classes.map((c, i) => Object.assign(document.createElement('option'), { value: String(i), textContent: c })));
  }

  async classifyUrl(url: string): Promise<void> {
    await this.run(async () => this.classify(new Uint8Array(await (await fetch(url)).arrayBuffer())));
  }

  /** Runs `f`, showing its error on the page. */
  async run<T>(f: () => Promise<T>): Promise<T | undefined> {
    clearError();
    try {
      return await f();
    } catch (e) {
      showError((e as Error).message);
      return undefined;
    }
  }

  // --- fine-tuning -------------------------------------------------------

  private onWorker(m: FromWorker): void {
    for (const l of this.workerListeners) l(m);
    if (m.type === 'error') showError(`Fine-tuning: ${m.message}`);
    if (m.type === 'step') {
      this.history.push({ step: m.step, loss: m.loss, accuracy: m.accuracy });
      $('ft-status').textContent = `step ${m.step}: loss ${m.loss.toFixed(4)}, accuracy on the labelled images ${(100 * m.accuracy).toFixed(1)}% (${m.ms.toFixed(0)} ms/step)`;
      $('chart').innerHTML = lineChart(this.history);
    }
  }

  private next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve, reject) => {
      const l = (m: FromWorker) => {
        if (m.type === type || m.type === 'error') {
          this.workerListeners.delete(l);
          if (m.type === 'error') reject(new Error(m.message));
          else resolve(m as Extract<FromWorker, { type: T }>);
        }
      };
      this.workerListeners.add(l);
    });
  }

  /** Starts (or restarts) the worker on the model's classes or on new ones. */
  async startWorker(init: { mode: 'existing' } | { mode: 'new'; classes: string[]; loss: string }): Promise<Extract<FromWorker, { type: 'ready' }>> {
    await this.ready;
    this.worker?.terminate();
    this.worker = new Worker(new URL(this.meta.assets.worker, base), { type: 'module' });
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => this.onWorker(e.data);
    this.worker.onerror = (e) => showError(`Fine-tuning worker failed: ${e.message}`);
    const ready = this.next('ready');
    const webgpuFolder = 'folder' in this.meta.webgpu ? this.meta.webgpu.folder : undefined;
    const msg: ToWorker = { type: 'init', ...init, ...(init.mode === 'existing' ? { webgpuFolder } : {}), modelBase, wasmBase: `${base}${this.meta.assets.ort}`, choice: this.choice, threads: this.threads } as ToWorker;
    this.worker.postMessage(msg);
    this.workerReady = ready.then(() => undefined);
    const r = await ready;
    this.trainingBackend = r.backend;
    $('ft-backend').textContent = r.backend === 'webgpu' ? 'Fine-tuning runs on WebGPU (weights and optimizer state stay on the GPU).' : `Fine-tuning runs on wasm${r.why ? ` (${r.why})` : ''}.`;
    // Labelled images keep their labels while the classes stay the same (images added before the first Start
    // included); new classes make the old labels meaningless, so those images are dropped, and the page says so.
    const classes = init.mode === 'new' ? init.classes : this.meta.classes;
    const same = classes.length === this.classNames.length && classes.every((c, i) => c === this.classNames[i]);
    this.classNames = [...classes];
    this.renderLabelChoices(this.classNames);
    if (!same && this.ftLabels.length) {
      $('ft-count').textContent = `0 images (the ${this.ftLabels.length} labelled for the previous classes were cleared)`;
      this.ftImages = [];
      this.ftLabels = [];
    }
    this.history = [];
    this.lastExport = undefined;
    return r;
  }

  async addImages(files: { bytes: Uint8Array; label: number }[]): Promise<number> {
    for (const f of files) {
      this.ftImages.push(await this.preprocess(f.bytes));
      this.ftLabels.push(f.label);
    }
    $('ft-count').textContent = `${this.ftLabels.length} images`;
    return this.ftLabels.length;
  }

  async finetune(o: { steps: number; batch: number; lr: number }): Promise<{ losses: number[]; accuracy: number; stepsPerSecond: number; medianStepMs: number; stopped: boolean; backend?: string; stateOn: string[] }> {
    checkSettings(o);
    if (!this.worker || !this.workerReady) await this.startWorker({ mode: 'existing' });
    await this.workerReady;
    if (this.ftLabels.length === 0) throw new Error('add a few labelled images first');
    this.lastExport = undefined;
    for (const id of ['download-checkpoint', 'download-model']) ($(id) as HTMLButtonElement).disabled = true;
    const size = this.ftImages[0]!.length;
    const images = new Float32Array(this.ftLabels.length * size);
    this.ftImages.forEach((x, i) => images.set(x, i * size));
    const losses: number[] = [];
    const stepMs: number[] = [];
    let accuracy = NaN;
    const stateOn: string[] = [];
    const collect = (m: FromWorker) => {
      if (m.type === 'step') {
        stateOn.push(m.stateOn);
        losses.push(m.loss);
        stepMs.push(m.ms);
        accuracy = m.accuracy;
      }
    };
    this.workerListeners.add(collect);
    const done = this.next('done');
    ($('start') as HTMLButtonElement).disabled = true;
    ($('stop') as HTMLButtonElement).disabled = false;
    this.worker!.postMessage({ type: 'train', images, labels: Int32Array.from(this.ftLabels), steps: o.steps, batch: o.batch, lr: o.lr } satisfies ToWorker);
    try {
      const d = await done;
      const bad = losses.findIndex((l) => !Number.isFinite(l));
      // A diverged model is neither shown nor offered for download.
      if (bad >= 0) throw new Error(`the loss became ${losses[bad]} at step ${bad + 1}; nothing was kept: try a lower learning rate`);
      await this.useFinetuned();
      const sorted = [...stepMs].sort((a, b) => a - b);
      // stepsPerSecond counts the whole loop (each step is followed by an evaluation of every labelled image, for the live accuracy); medianStepMs is the training step alone.
      return { losses, accuracy, stepsPerSecond: d.stepsPerSecond, medianStepMs: sorted[Math.floor(sorted.length / 2)] ?? NaN, stopped: d.stopped, backend: this.trainingBackend, stateOn };
    } finally {
      this.workerListeners.delete(collect);
      ($('start') as HTMLButtonElement).disabled = false;
      ($('stop') as HTMLButtonElement).disabled = true;
      for (const id of ['download-checkpoint', 'download-model']) ($(id) as HTMLButtonElement).disabled = !this.lastExport;
    }
  }

  /** The fine-tuned model becomes the classify panel's: exported from the worker, opened as the inference session. */
  private async useFinetuned(): Promise<void> {
    const r = await this.exportTrained();
    let session: Session | undefined;
    if (this.backend === 'webgpu') session = await Session.create(r.inference, { runtime: 'web', ort: this.ort, providers: ['webgpu'] }).catch(() => undefined);
    session ??= await Session.create(r.inference, { runtime: 'web', ort: this.ort, providers: ['wasm'] });
    const old = this.session;
    this.session = session;
    await old.release().catch(() => undefined);
    this.predictedNames = [...this.classNames];
    this.ownClasses = this.classNames.length === this.meta.classes.length && this.classNames.every((c, i) => c === this.meta.classes[i]);
    $('model-line').textContent = `Fine-tuned in this page (${this.classNames.length} classes: ${this.classNames.join(', ')}); accuracy on the labelled images ${(100 * r.accuracy).toFixed(1)}%.`;
  }

  stop(): void {
    this.worker?.postMessage({ type: 'stop' } satisfies ToWorker);
  }

  /** The fine-tuned checkpoint and inference model, as the download buttons save them. */
  async exportTrained(): Promise<{ checkpoint: Uint8Array; inference: Uint8Array; accuracy: number }> {
    if (!this.worker) throw new Error('fine-tune first');
    const got = this.next('exported');
    this.worker.postMessage({ type: 'export' } satisfies ToWorker);
    const r = await got;
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
}

function barChart(values: number[], names: string[]): string {
  const w = 16;
  const h = 80;
  const bars = values.map((v, i) => `<rect x="${i * w + 1}" y="${h - v * h}" width="${w - 2}" height="${v * h}" fill="#3b82f6"><title>${escapeHtml(names[i] ?? String(i))}: ${(100 * v).toFixed(1)}%</title></rect>`).join('');
  return `<svg width="${values.length * w}" height="${h}" role="img" aria-label="predicted distribution over the ordered classes">${bars}</svg>`;
}

/** Fine-tuning settings a person can type: whole steps and batch, a positive finite learning rate. */
export function checkSettings(o: { steps: number; batch: number; lr: number }): void {
  if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > 100000) throw new Error(`steps must be a whole number from 1 to 100000, got ${o.steps}`);
  if (!Number.isInteger(o.batch) || o.batch < 1 || o.batch > 4096) throw new Error(`batch must be a whole number from 1 to 4096, got ${o.batch}`);
  if (!Number.isFinite(o.lr) || o.lr <= 0 || o.lr > 10) throw new Error(`the learning rate must be above 0 and at most 10, got ${o.lr}`);
}

function lineChart(all: { step: number; loss: number; accuracy: number }[]): string {
  // Points with a non-finite loss are left out of the chart (the status line says what happened).
  const points = all.filter((p) => Number.isFinite(p.loss) && Number.isFinite(p.accuracy));
  const w = 420;
  const h = 160;
  const maxLoss = Math.max(...points.map((p) => p.loss), 1e-9);
  const n = Math.max(points.length - 1, 1);
  const path = (f: (p: (typeof points)[number]) => number) => points.map((p, i) => `${i ? 'L' : 'M'}${(i / n) * (w - 20) + 10},${h - 10 - f(p) * (h - 20)}`).join(' ');
  return `<svg width="${w}" height="${h}" role="img" aria-label="loss (blue) and accuracy (green) per step">
<path d="${path((p) => p.loss / maxLoss)}" fill="none" stroke="#3b82f6" stroke-width="2"/>
<path d="${path((p) => p.accuracy)}" fill="none" stroke="#16a34a" stroke-width="2"/>
<text x="12" y="14" font-size="11" fill="#3b82f6">loss (max ${maxLoss.toFixed(3)})</text><text x="150" y="14" font-size="11" fill="#16a34a">accuracy</text></svg>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

const app = new App();
(globalThis as unknown as { lossgraph: App }).lossgraph = app;

async function readFile(f: File): Promise<Uint8Array> {
  return new Uint8Array(await f.arrayBuffer());
}

$('file').addEventListener('change', async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) await app.run(async () => app.classify(await readFile(f)));
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
  if (f) await app.run(async () => app.classify(await readFile(f)));
});
document.addEventListener('paste', async (e) => {
  const f = [...(e.clipboardData?.files ?? [])][0];
  if (f) await app.run(async () => app.classify(await readFile(f)));
});
$('ft-files').addEventListener('change', async (e) => {
  const files = [...((e.target as HTMLInputElement).files ?? [])];
  const label = Number(($('label-for') as HTMLSelectElement).value);
  await app.run(async () => app.addImages(await Promise.all(files.map(async (f) => ({ bytes: await readFile(f), label })))));
});
for (const r of document.querySelectorAll<HTMLInputElement>('input[name=mode]')) {
  r.addEventListener('change', () => app.run(async () => {
    if (r.value === 'new') {
      const classes = ($('new-classes') as HTMLInputElement).value.split(',').map((c) => c.trim()).filter(Boolean);
      await app.startWorker({ mode: 'new', classes, loss: ($('loss-spec') as HTMLInputElement).value });
    } else await app.startWorker({ mode: 'existing' });
  }));
}
$('start').addEventListener('click', () => app.run(async () => app.finetune({
  steps: Number(($('steps') as HTMLInputElement).value),
  batch: Number(($('batch') as HTMLInputElement).value),
  lr: Number(($('lr') as HTMLInputElement).value),
})));
$('stop').addEventListener('click', () => app.stop());
$('download-checkpoint').addEventListener('click', () => app.run(() => app.download('checkpoint')));
$('download-model').addEventListener('click', () => app.run(() => app.download('inference')));
