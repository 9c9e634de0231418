// The fine-tuning Web Worker: runs lossgraph's standard-ONNX training step in
// onnxruntime-web, off the page's thread so the page stays responsive. For new
// classes it builds a new training graph with lossgraph's own compiler, here in
// the browser, on the loss spec the user typed, and carries the trained body's
// weights over.
import type * as OrtWeb from 'onnxruntime-web';
import { buildArtifacts } from '../src/artifacts/build.ts';
import { FILES, bakeInference, checkpointBytes, parseCheckpoint, type Manifest } from '../src/artifacts/contract.ts';
import { parseManifest } from '../src/artifacts/manifest_schema.ts';
import { LossgraphError } from '../src/errors.ts';
import { cyclicBatch } from '../src/data/batches.ts';
import { TrainingSession, type TrainBatch } from '../src/runtime/training.ts';
import { ORT_BUILDS } from '../src/artifacts/web_bundle.ts';
import type { FromWorker, ToWorker } from './messages.ts';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

let ort: typeof OrtWeb | undefined;
let session: TrainingSession | undefined;
let inferenceModel: Uint8Array | undefined;
let stopRequested = false;
let lastAccuracy = NaN;

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new LossgraphError(`${url}: ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** Artifacts for new classes: a new head on the exported body, whose trained weights are carried over. */
function newHead(old: Manifest, oldCheckpoint: Uint8Array, classes: string[], loss: string, target: 'cpu' | 'webgpu') {
  if (classes.length < 2) throw new LossgraphError(`name at least 2 classes (got ${classes.length})`);
  const built = buildArtifacts({ model: old.spec.model, input: old.spec.input, optimizer: old.spec.optimizer, seed: old.spec.seed, loss, classes: classes.length, target });
  const trained = parseCheckpoint(oldCheckpoint, 'checkpoint.safetensors', old).tensors;
  const fresh = parseCheckpoint(built.files[FILES.checkpoint]!, 'new checkpoint', built.manifest).tensors;
  const tensors = built.manifest.carried.map((c) => {
    const from = c.kind !== 'optimizer' ? trained.get(c.name) : undefined;
    const keep = from && from.length === fresh.get(c.name)!.length;
    return { name: c.name, shape: c.shape, data: keep ? from : fresh.get(c.name)! };
  });
  return { manifest: built.manifest, files: { ...built.files, [FILES.checkpoint]: checkpointBytes(built.manifest, tensors, 0) } };
}

type Artifacts = { manifest: Manifest; files: Record<string, Uint8Array> };

async function fetchManifest(base: string): Promise<Manifest> {
  return parseManifest(new TextDecoder().decode(await fetchBytes(`${base}${FILES.manifest}`)), FILES.manifest);
}

/** The exported graphs at `base` (the run's own, or their WebGPU forms) described by `manifest`, with the exported checkpoint. */
async function fetchArtifacts(base: string, manifest: Manifest, checkpoint: Uint8Array): Promise<Artifacts> {
  const [training, evaluation, inference] = await Promise.all([FILES.training, FILES.eval, FILES.inference].map((f) => fetchBytes(`${base}${f}`)));
  return { manifest, files: { [FILES.training]: training!, [FILES.eval]: evaluation!, [FILES.inference]: inference!, [FILES.checkpoint]: checkpoint } };
}

/** Why WebGPU cannot be used for fine-tuning here, or undefined when it can be tried. */
async function webgpuUnavailable(m: Extract<ToWorker, { type: 'init' }>): Promise<string | undefined> {
  if (!m.choice.webgpu) return m.choice.why;
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return 'this browser offers no WebGPU in workers';
  if (!(await gpu.requestAdapter().catch(() => null))) return 'no WebGPU adapter';
  if (m.mode === 'existing' && !m.webgpuFolder) return 'the bundle has no WebGPU graphs for this model';
  return undefined;
}

async function init(m: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  // The page's onnxruntime-web build, from the same files (the browser has them cached).
  ort ??= (await import(`${m.wasmBase}${ORT_BUILDS[m.choice.build].module}`)) as typeof OrtWeb;
  ort.env.wasm.wasmPaths = m.wasmBase;
  ort.env.wasm.numThreads = m.threads;
  await session?.release();
  session = undefined;
  const [manifest, checkpoint] = await Promise.all([fetchManifest(m.modelBase), fetchBytes(`${m.modelBase}${FILES.checkpoint}`)]);
  const load = async (target: 'cpu' | 'webgpu'): Promise<Artifacts> => {
    if (m.mode === 'new') return newHead(manifest, checkpoint, m.classes, m.loss, target);
    const base = target === 'webgpu' ? `${m.modelBase}${m.webgpuFolder}` : m.modelBase;
    return fetchArtifacts(base, target === 'webgpu' ? await fetchManifest(base) : manifest, checkpoint);
  };
  let why = await webgpuUnavailable(m);
  if (!why) {
    try {
      // Parameters and optimizer state stay on the GPU between steps (TrainingSession asks for gpu-buffer outputs).
      session = await TrainingSession.fromBuilt(await load('webgpu'), { runtime: 'web', ort, providers: ['webgpu'] });
    } catch (e) {
      why = e instanceof Error ? e.message : String(e);
    }
  }
  let cpu: Artifacts | undefined;
  if (!session) {
    cpu = await load('cpu');
    session = await TrainingSession.fromBuilt(cpu, { runtime: 'web', ort, providers: ['wasm'] });
  }
  // Downloads bake the CPU form of the inference graph: it runs in every runtime.
  inferenceModel = cpu ? cpu.files[FILES.inference] : m.mode === 'new' ? (await load('cpu')).files[FILES.inference] : await fetchBytes(`${m.modelBase}${FILES.inference}`);
  const parameters = session.manifest.carried.filter((c) => c.kind === 'parameter').reduce((a, c) => a + c.shape.reduce((x, y) => x * y, 1), 0);
  const backend = session.backend === 'webgpu' ? 'webgpu' : 'wasm';
  post({ type: 'ready', classes: m.mode === 'new' ? m.classes : [], head: session.manifest.head, loss: session.manifest.spec.loss, parameters, backend, ...(backend === 'wasm' && why ? { why } : {}) });
}

/** The image the classify panel shows, predicted after each step; the page may change it mid-run. */
let preview: Float32Array | undefined;

/** Training images, held-back images and the preview image in one eval batch (eval mode: each example is on its own). */
function evalBatch(m: Extract<ToWorker, { type: 'train' }>): { batch: TrainBatch; train: number; held: number } {
  const held = m.validation?.labels.length ?? 0;
  const n = m.labels.length + held + (preview ? 1 : 0);
  const size = m.images.length / m.labels.length;
  const images = new Float32Array(n * size);
  images.set(m.images);
  if (m.validation) images.set(m.validation.images, m.images.length);
  if (preview) images.set(preview, (n - 1) * size);
  const labels = new BigInt64Array(n);
  m.labels.forEach((v, i) => (labels[i] = BigInt(v)));
  m.validation?.labels.forEach((v, i) => (labels[m.labels.length + i] = BigInt(v)));
  return { batch: { images, labels }, train: m.labels.length, held };
}

const accuracyOf = (classes: BigInt64Array, labels: Int32Array, from: number) => labels.reduce((a, y, i) => a + (Number(classes[from + i]) === y ? 1 : 0), 0) / labels.length;

async function train(m: Extract<ToWorker, { type: 'train' }>): Promise<void> {
  if (!session) throw new LossgraphError('the model is not loaded yet');
  stopRequested = false;
  preview = m.preview;
  let batch = evalBatch(m);
  let batchPreview = preview;
  // Where this run started: a run whose loss turns NaN or infinite is undone, so the model stays usable.
  const before = { tensors: await session.readTensors(), step: session.step };
  const t0 = performance.now();
  let s = 0;
  let diverged: { step: number; loss: number } | undefined;
  for (; s < m.steps && !stopRequested; s++) {
    const t = performance.now();
    const loss = await session.runTrainStep(cyclicBatch(m.images, m.labels, s, m.batch), m.lr);
    const ms = performance.now() - t;
    if (!Number.isFinite(loss)) {
      diverged = { step: s + 1, loss };
      post({ type: 'step', step: s + 1, loss, accuracy: NaN, ms, stateOn: session.stateLocation });
      session.restore(before.tensors, before.step);
      break;
    }
    if (batchPreview !== preview) [batch, batchPreview] = [evalBatch(m), preview];
    const ev = await session.runEvalStep(batch.batch);
    lastAccuracy = accuracyOf(ev.classes, m.labels, 0);
    const validation = m.validation && batch.held ? accuracyOf(ev.classes, m.validation.labels, batch.train) : undefined;
    const shown = batchPreview && ev.probabilities.length ? { probabilities: Array.from(ev.probabilities.subarray(ev.probabilities.length - ev.probabilities.length / batch.batch.labels.length)), classIndex: Number(ev.classes.at(-1)), ...(ev.expectedClass ? { expected: ev.expectedClass.at(-1)! } : {}) } : undefined;
    post({ type: 'step', step: s + 1, loss, accuracy: lastAccuracy, ...(validation !== undefined ? { validation } : {}), ...(shown ? { preview: shown } : {}), ms, stateOn: session.stateLocation });
    // Let a 'stop' or 'preview' message in between steps.
    await new Promise((r) => setTimeout(r, 0));
  }
  post({ type: 'done', steps: diverged ? diverged.step - 1 : s, stopped: stopRequested, stepsPerSecond: s / ((performance.now() - t0) / 1000), ...(diverged ? { diverged } : {}) });
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  try {
    if (m.type === 'init') await init(m);
    else if (m.type === 'train') await train(m);
    else if (m.type === 'stop') stopRequested = true;
    else if (m.type === 'preview') preview = m.image;
    else if (m.type === 'export') {
      if (!session || !inferenceModel) throw new LossgraphError('nothing to export: the model is not loaded');
      const checkpoint = await session.readCheckpoint({ source: `lossgraph web fine-tuning (${session.backend})` });
      const inference = bakeInference(inferenceModel, await session.readTensors());
      post({ type: 'exported', checkpoint, inference, accuracy: lastAccuracy }, [checkpoint.buffer, inference.buffer]);
    }
  } catch (err) {
    post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};
