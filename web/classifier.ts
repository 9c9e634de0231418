// The classify panel: loads the exported inference model in onnxruntime-web
// (WebGPU on a hardware adapter, wasm otherwise; see load.ts), decodes images
// in a worker of its own (so a 24-megapixel photo never freezes the page), and
// shows the prediction. It loads no part of lossgraph's compiler.
import { FILES, TENSORS } from '../src/artifacts/contract.ts';
import type { BundleMeta } from '../src/artifacts/web_bundle.ts';
import type { TensorSize } from '../src/data/pixels.ts';
import type { BackendChoice } from './messages.ts';
import { Session } from '../src/runtime/session.ts';
import { Decoder } from './decoder.ts';
import { $, Superseded, base, clearError, modelBase, params, showError } from './dom.ts';
import { chooseBackend, loadRuntime, type Ort } from './load.ts';
import { drawTensor } from './pictures.ts';
import { describePrediction, renderPrediction, type Prediction } from './prediction.ts';

export class Classifier {
  meta!: BundleMeta;
  session!: Session;
  backend = 'wasm';
  /** Why the page is not on WebGPU, when it is not. */
  backendNote = '';
  threads = 1;
  readonly ready: Promise<void>;
  /** Milliseconds since navigation at each loading stage, for the load benchmark (bench/page_load.ts). */
  readonly timings: Record<string, number> = {};
  protected choice!: BackendChoice;
  protected ort!: Ort;
  private decoder!: Decoder;
  /** The bundle's own inference session, kept so a reset can bring it back. */
  protected bundleSession!: Session;
  /** The names of the classes the panel's model predicts, and whether they are the bundle's (whose ordinal values and hierarchy apply). */
  protected predictedNames: string[] = [];
  protected ownClasses = true;
  /** The image last shown in the panel (its model input). */
  protected shown?: Float32Array;
  private shownSeq = 0;

  constructor() {
    this.ready = this.load().then(() => this.loaded()).catch((e: Error) => {
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
    $('backend').textContent = this.backend + (this.backendNote ? ` (${this.backendNote})` : '');
    $('input-size').textContent = `${p.channels}×${p.height}×${p.width}`;
    this.describeBundleModel();
    this.renderSamples();
    this.predictedNames = [...this.meta.classes];
  }

  /** What a subclass does once the model is ready (the fine-tuning panel sets itself up). */
  protected loaded(): void {}

  /** Told each image the panel shows (the fine-tuning panel previews its training on it). */
  protected showing(_x: Float32Array): void {}

  /** The model's input shape [C, H, W]. */
  protected get shape(): [number, number, number] {
    const p = this.meta.preprocess;
    return [p.channels, p.height, p.width];
  }

  /** The size pixels are resized to for the model (pixels.ts's TensorSize). */
  protected get tensorSize(): TensorSize {
    const p = this.meta.preprocess;
    return { width: p.width, height: p.height, channels: p.channels };
  }

  /** The model's input for an image file's bytes: the same decoder and steps as the Node loader, in the decoder worker. */
  async preprocess(bytes: Uint8Array): Promise<Float32Array> {
    await this.ready;
    return (await this.decoder.decode(bytes, this.tensorSize)).tensor;
  }

  /** Classifies an image file's bytes; `name` is the file's, for messages. */
  async classify(bytes: Uint8Array, name = 'the image'): Promise<Prediction> {
    const seq = ++this.shownSeq;
    // The previous result goes at once: it must never stand beside another file's name.
    this.clearPrediction(`Reading ${name} (${(bytes.length / 1e6).toFixed(1)} MB)…`);
    await this.ready;
    let decoded: { tensor: Float32Array; width: number; height: number };
    try {
      decoded = await this.decoder.decode(bytes, this.tensorSize);
    } catch {
      if (seq === this.shownSeq) $('timing').textContent = '';
      throw new Error(`${name}: not an image the page can read (JPEG, PNG, BMP, GIF, WebP or TIFF)`);
    }
    if (seq !== this.shownSeq) throw new Superseded(`${name} was replaced by a newer image`);
    return this.classifyTensor(decoded.tensor, `${decoded.width}×${decoded.height}`);
  }

  /** Classifies a model input with the panel's current model (the bundle's, or the last fine-tuned one). */
  protected async classifyTensor(x: Float32Array, sourceSize?: string): Promise<Prediction> {
    this.shown = x;
    this.showing(x);
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

  protected show(r: Prediction): void {
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

  /** The line above the panel, for the bundle's own model. */
  protected describeBundleModel(): void {
    $('model-line').textContent = `Model ${this.meta.run.model}, loss ${this.meta.run.loss}, trained on ${this.meta.run.data}; ${this.meta.classes.length} classes.`;
  }
}
