// Run by `npm run test:webgpu`. The exported page in headless Chromium with
// --enable-unsafe-webgpu (SwiftShader's adapter, no GPU needed): it classifies
// on WebGPU with the model's WebGPU form (CPU fallback disabled) and
// fine-tunes on WebGPU with parameters and optimizer state left on the GPU
// between steps; Node, on the same exported WebGPU-form graphs and batches,
// follows the page's trajectory; the downloaded checkpoint scores in
// `lossgraph eval` what the page reported. `?backend=wasm` falls back and says so.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { FILES, parseCheckpoint } from '../../src/artifacts/contract.ts';
import { parseManifest } from '../../src/artifacts/manifest_schema.ts';
import { cyclicBatch } from '../../src/data/batches.ts';
import { decodeImage } from '../../src/data/image.ts';
import { TrainingSession } from '../../src/runtime/training.ts';
import { CHROMIUM, CLASSES, SIZE, assertClassifiesLikeNode, openPage as openServedPage, servedRun, writeFolder, type ServedRun } from '../helpers/web.ts';

const BIN = fileURLToPath(new URL('../../bin/lossgraph.js', import.meta.url));
let skip: string | undefined = existsSync(CHROMIUM) ? undefined : `no ${CHROMIUM}`;
let run: ServedRun | undefined;
let dir: string;

type App = {
  ready: Promise<void>;
  backend: string;
  backendNote: string;
  startWorker(i: unknown): Promise<{ backend: string; why?: string }>;
  addImages(f: { bytes: Uint8Array; label: number }[]): Promise<number>;
  finetune(o: unknown): Promise<{ losses: number[]; accuracy: number; medianStepMs: number; backend?: string; stateOn: string[] }>;
  exportTrained(): Promise<{ checkpoint: Uint8Array; accuracy: number }>;
  classify(b: Uint8Array): Promise<{ classIndex: number; probabilities: Float32Array }>;
};

before(async () => {
  if (skip) return;
  // cnn:4,8 keeps its default dropout 0.2: the WebGPU form hashes its masks in exact float arithmetic.
  run = await servedRun({ prefix: 'lossgraph-webgpu-page-', perClass: 30, model: 'cnn:4,8', loss: 'ce + 0.3*gaussian_kl(sigma=1)', epochs: 1, args: ['--enable-unsafe-webgpu'] });
  dir = run.dir;
  const probe = await run.browser.newPage();
  // navigator.gpu needs a secure context: ask from the served origin (localhost), not about:blank.
  await probe.goto(`${run.server.url}SHA256SUMS`);
  if (!(await probe.evaluate(async () => !!(await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter())))) skip = 'Chromium offers no WebGPU adapter here';
  await probe.close();
});

after(async () => {
  await run?.close();
});

const openPage = async (query = ''): Promise<Page> => (await openServedPage(run!, query)).page;

test('a software WebGPU adapter (SwiftShader) is declined by default, with the reason shown, and only the plain wasm build is fetched', async (t) => {
  if (skip) return t.skip(skip);
  const { page, requests } = await openServedPage(run!);
  assert.match((await page.textContent('#backend'))!, /^wasm \(the WebGPU adapter is a software one \(swiftshader\), slower than wasm; add \?backend=webgpu to use it anyway\)$/);
  assert.ok(requests.some((u) => u.endsWith('/ort-wasm-simd-threaded.wasm')), 'the plain wasm build');
  assert.deepEqual(requests.filter((u) => /webgpu|asyncify/.test(u)), [], 'nothing of the WebGPU build');
  await page.close();
});

test('the page classifies and fine-tunes on WebGPU, state on the GPU; Node follows its trajectory; eval scores the download', async (t) => {
  if (skip) return t.skip(skip);
  // SwiftShader is the only adapter here: asked for explicitly.
  const page = await openPage('?backend=webgpu');
  const files = await writeFolder(join(dir, 'finetune'), 4, 21);
  // Classification on WebGPU, against onnxruntime-node on the CPU.
  assert.equal(await page.evaluate(() => (globalThis as unknown as { lossgraph: App }).lossgraph.backend), 'webgpu', await page.evaluate(() => (globalThis as unknown as { lossgraph: App }).lossgraph.backendNote));
  assert.match((await page.textContent('#backend'))!, /^webgpu$/);
  await assertClassifiesLikeNode(page, files.slice(0, 4), join(dir, 'web', 'model', FILES.inference), 'WebGPU');

  // Fine-tuning on WebGPU.
  const ready = await page.evaluate(() => (globalThis as unknown as { lossgraph: App }).lossgraph.startWorker({ mode: 'existing' }));
  assert.equal(ready.backend, 'webgpu', ready.why);
  assert.match((await page.textContent('#ft-backend'))!, /runs on WebGPU/);
  const labelled = files.map((f) => ({ bytes: Array.from(readFileSync(f)), label: CLASSES.indexOf(f.split('/').at(-2)!) }));
  await page.evaluate(async (items) => (globalThis as unknown as { lossgraph: App }).lossgraph.addImages(items.map((x) => ({ bytes: new Uint8Array(x.bytes), label: x.label }))), labelled);
  const [steps, batch, lr] = [12, 6, 0.01];
  const r = await page.evaluate(async (o) => (globalThis as unknown as { lossgraph: App }).lossgraph.finetune(o), { steps, batch, lr });
  assert.equal(r.backend, 'webgpu');
  assert.deepEqual(new Set(r.stateOn), new Set(['gpu-buffer']), 'after every step the carried tensors are GPU buffers');
  assert.equal(r.losses.length, steps);
  const exported = await page.evaluate(async () => {
    const e = await (globalThis as unknown as { lossgraph: App }).lossgraph.exportTrained();
    return { checkpoint: Array.from(e.checkpoint), accuracy: e.accuracy };
  });

  // Node on the bundle's WebGPU-form graphs, the same checkpoint and batches.
  const model = join(dir, 'web', 'model');
  const gpuForm = join(model, 'webgpu');
  const manifest = parseManifest(readFileSync(join(gpuForm, FILES.manifest), 'utf8'), 'manifest');
  assert.equal(manifest.spec.target, 'webgpu');
  const node = await TrainingSession.fromBuilt({ manifest, files: { [FILES.training]: readFileSync(join(gpuForm, FILES.training)), [FILES.eval]: readFileSync(join(gpuForm, FILES.eval)), [FILES.checkpoint]: readFileSync(join(model, FILES.checkpoint)) } });
  const images = await Promise.all(files.map((f) => decodeImage(f, { width: SIZE[2], height: SIZE[1], channels: 3 })));
  const all = new Float32Array(images.length * images[0]!.length);
  images.forEach((x, i) => all.set(x, i * x.length));
  const labels = Int32Array.from(labelled, (l) => l.label);
  for (let s = 0; s < steps; s++) {
    const l = await node.runTrainStep(cyclicBatch(all, labels, s, batch), lr);
    // AdamW moves every weight by about lr from the first step on, so float32 rounding differences between GPU and CPU grow slowly.
    assert.ok(Math.abs(l - r.losses[s]!) <= 2e-3 * Math.max(1, Math.abs(l)), `step ${s + 1}: Node ${l}, page on WebGPU ${r.losses[s]}`);
  }
  const nodeState = node.tensors();
  await node.release();
  const ckpt = join(dir, 'finetuned.safetensors');
  writeFileSync(ckpt, new Uint8Array(exported.checkpoint));
  const runManifest = parseManifest(readFileSync(join(model, FILES.manifest), 'utf8'), 'manifest');
  const downloaded = parseCheckpoint(new Uint8Array(exported.checkpoint), ckpt, runManifest);
  const before = parseCheckpoint(readFileSync(join(model, FILES.checkpoint)), 'exported checkpoint', runManifest);
  assert.equal(downloaded.step, before.step + steps);
  // Weights match closely, except conv biases (and their optimizer state and the running means they shift):
  // batch norm right after a conv cancels its bias's gradient, so that gradient is float32 rounding noise,
  // which AdamW turns into steps of about lr either way (bounded by 2 * lr * steps).
  let worst = 0;
  let where = '';
  for (const t of nodeState) {
    const noise = /^(conv\d+\.bias|bn\d+\.running_mean)/.test(t.name);
    t.data.forEach((v, i) => {
      const d = Math.abs(v - downloaded.tensors.get(t.name)![i]!);
      assert.ok(d <= 2 * lr * steps, `${t.name}[${i}]: Node ${v}, page ${downloaded.tensors.get(t.name)![i]}`);
      if (!noise && d > worst) [worst, where] = [d, `${t.name}[${i}]`];
    });
  }
  assert.ok(worst < 1e-3, `downloaded weights vs Node's after ${steps} steps: max |difference| ${worst} at ${where}`);
  const ev = spawnSync(process.execPath, [BIN, 'eval', '--run', join(dir, 'run'), '--checkpoint', ckpt, '--data', `folder:${join(dir, 'finetune')}`, '--json'], { encoding: 'utf8' });
  assert.equal(ev.status, 0, ev.stderr);
  const scored = JSON.parse(ev.stdout.trim().split('\n').pop()!);
  assert.ok(Math.abs(scored.test.accuracy - exported.accuracy) < 1e-9, `eval ${scored.test.accuracy} vs page ${exported.accuracy}`);
  t.diagnostic(`WebGPU (SwiftShader) fine-tuning: median step ${r.medianStepMs.toFixed(1)} ms (batch ${batch}, cnn:4,8, ${SIZE.join('x')}); losses ${r.losses[0]!.toFixed(3)} -> ${r.losses.at(-1)!.toFixed(3)}; max |Δw| vs Node ${worst.toExponential(1)}`);
  await page.close();
});

test('?backend=wasm: the page and its fine-tuning run on wasm and say why', async (t) => {
  if (skip) return t.skip(skip);
  const page = await openPage('?backend=wasm');
  assert.match((await page.textContent('#backend'))!, /^wasm \(wasm was asked for\)$/);
  const ready = await page.evaluate(() => (globalThis as unknown as { lossgraph: App }).lossgraph.startWorker({ mode: 'existing' }));
  assert.equal(ready.backend, 'wasm');
  assert.match((await page.textContent('#ft-backend'))!, /runs on wasm \(wasm was asked for\)/);
  await page.close();
});
