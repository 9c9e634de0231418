// Run by `npm run test:webgpu` (.ci/run runs it): SwiftShader compiles a WebGPU
// pipeline per session, so these take a few minutes.
// Artifacts built for WebGPU (`target: 'webgpu'`) run on onnxruntime-web's
// WebGPU provider with CPU fallback disabled, in headless Chromium with
// --enable-unsafe-webgpu (SwiftShader: no GPU needed): the training, eval and
// inference graphs of the MLP for every loss the WebGPU issue names, with
// training losses over several steps matching the wasm backend's.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { CHROMIUM, openProbePage } from '../../bench/webgpu/harness.ts';
import { buildArtifacts } from '../../src/artifacts/build.ts';
import { TENSORS, parseCheckpoint } from '../../src/artifacts/contract.ts';

let skip: string | undefined = existsSync(CHROMIUM) ? undefined : `no ${CHROMIUM}`;
let page: Page;

let close: (() => Promise<void>) | undefined;

before(async () => {
  if (skip) return;
  const opened = await openProbePage();
  page = opened.page;
  close = opened.close;
  if (!(await page.evaluate(async () => !!(await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter())))) skip = 'Chromium offers no WebGPU adapter here';
});

after(async () => {
  await close?.();
});

type Feed = { type: string; data: number[]; dims: number[] };
const LOSSES = ['ce', 'ce + 0.5*gaussian_kl(sigma=1)', 'hierarchical', 'sparse_lsr', 'coral', 'corn', 'label_smoothing', 'focal'];
// The MLP with every loss; the CNN (batch norm, max pooling, dropout) with the six the WebGPU issue names.
const COMBOS = [...LOSSES.map((loss) => ['mlp:8', loss] as const), ...LOSSES.slice(0, 6).map((loss) => ['cnn:4,8;dropout=0.3', loss] as const)];

for (const [model, loss] of COMBOS) {
  test(`WebGPU, no CPU fallback: ${model} + ${loss}: training steps match wasm; eval and inference run`, async (t) => {
    if (skip) return t.skip(skip);
    const built = buildArtifacts({ model, loss, classes: 5, input: [1, 6, 6], optimizer: 'adamw', seed: 0, hierarchy: { coarse: [0, 0, 1, 1, 2] }, target: 'webgpu' });
    const ck = parseCheckpoint(built.files['checkpoint.safetensors']!, 'checkpoint', built.manifest);
    const b = 6;
    const all: Record<string, Feed> = {
      [TENSORS.input]: { type: 'float32', data: Array.from({ length: b * 36 }, (_, i) => ((i * 7) % 11) / 11), dims: [b, 1, 6, 6] },
      [TENSORS.labels]: { type: 'int32', data: [0, 1, 4, 2, 3, 1], dims: [b] },
      [TENSORS.lr]: { type: 'float32', data: [0.02], dims: [] },
      [TENSORS.step]: { type: 'int32', data: [1], dims: [] },
      [TENSORS.seed]: { type: 'int32', data: [0], dims: [] },
    };
    for (const h of built.manifest.hyperparameters) all[h.name] = { type: 'float32', data: [h.default], dims: [] };
    for (const c of built.manifest.carried) all[c.name] = { type: 'float32', data: Array.from(ck.tensors.get(c.name)!), dims: c.shape };
    const feedsFor = (kind: 'training' | 'eval' | 'inference') => Object.fromEntries(built.manifest.graphs[kind].inputs.map((i) => [i.name, all[i.name]!]));
    const carried = built.manifest.carried.map((c) => c.name);
    const run = (provider: string) => page.evaluate(([bytes, p, f, c]) => (globalThis as unknown as { steps(b: number[], p: string, f: unknown, c: string[], n: number): Promise<{ losses?: number[]; error?: string }> }).steps(bytes, p, f, c, 4), [Array.from(built.files['training_model.onnx']!), provider, feedsFor('training'), carried] as const);
    const [gpu, wasm] = [await run('webgpu'), await run('wasm')];
    assert.equal(gpu.error, undefined, gpu.error);
    assert.equal(wasm.error, undefined, wasm.error);
    // Step 1 runs the same weights: float32 rounding of the forward pass. Later steps compare after AdamW
    // updates, which scale every gradient to about lr per weight, so rounding-size gradient differences
    // near zero become lr-size weight differences: a looser bound there.
    gpu.losses!.forEach((l, i) => assert.ok(Math.abs(l - wasm.losses![i]!) <= (i === 0 ? 1e-5 : 1e-3) * Math.max(1, Math.abs(l)), `step ${i + 1}: WebGPU ${l}, wasm ${wasm.losses![i]}`));
    assert.ok(gpu.losses!.at(-1)! < gpu.losses![0]!, `the loss falls on WebGPU: ${gpu.losses}`);
    for (const kind of ['eval', 'inference'] as const) {
      const r = await page.evaluate(([bytes, f]) => (globalThis as unknown as { probe(b: number[], p: string, f: unknown): Promise<{ error?: string }> }).probe(bytes, 'webgpu', f), [Array.from(built.files[built.manifest.graphs[kind].file]!), feedsFor(kind)] as const);
      assert.equal(r.error, undefined, `${kind}: ${r.error}`);
    }
  });
}
