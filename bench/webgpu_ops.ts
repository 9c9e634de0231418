// Which ops of lossgraph's graphs onnxruntime-web's WebGPU provider cannot run
// (they would fall back to the CPU), per model / loss and graph, measured in
// headless Chromium with --enable-unsafe-webgpu (SwiftShader; no GPU needed).
// Not part of npm test. Usage: node --import tsx bench/webgpu_ops.ts [--target webgpu] [MODEL|LOSS ...]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { buildArtifacts } from '../src/artifacts/build.ts';
import { parseCheckpoint, TENSORS } from '../src/artifacts/contract.ts';
import { openProbePage } from './webgpu/harness.ts';

const argv = process.argv.slice(2);
const target = argv[0] === '--target' ? (argv.splice(0, 2)[1] as 'cpu' | 'webgpu') : 'cpu';
const combos = argv.length ? argv : ['mlp:8|ce', 'cnn:4,8;dropout=0|ce', 'mlp:8|ce + 0.5*gaussian_kl(sigma=1)', 'mlp:8|hierarchical', 'mlp:8|sparse_lsr', 'mlp:8|coral', 'mlp:8|corn'];
const intType = target === 'webgpu' ? 'int32' : 'int64';
const { page, browser, close } = await openProbePage();
let missing = new Set<string>();
page.on('console', (m) => {
  const hit = /kernel not found in registries for Op type: (\w+) node name: (\S+)/.exec(m.text());
  if (hit) missing.add(`${hit[1]} (${hit[2]})`);
});
if (process.env.ORT_LAYOUT) await page.evaluate((l) => { (globalThis as { layout?: string }).layout = l; }, process.env.ORT_LAYOUT);
if (process.env.ORT_OPT_LEVEL) await page.evaluate((l) => { (globalThis as { optLevel?: string }).optLevel = l; }, process.env.ORT_OPT_LEVEL);
const ortDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
console.log(`onnxruntime-web ${JSON.parse(readFileSync(join(ortDir, '..', 'package.json'), 'utf8')).version}, Chromium ${browser.version()}`);
for (const combo of combos) {
  const [model, loss] = combo.split('|') as [string, string];
  const built = buildArtifacts({ model, loss, classes: 5, input: [1, 8, 8], optimizer: 'adamw', seed: 0, hierarchy: { coarse: [0, 0, 1, 1, 2] }, target });
  const ck = parseCheckpoint(built.files['checkpoint.safetensors']!, 'checkpoint', built.manifest);
  const b = 4;
  const all: Record<string, { type: string; data: number[]; dims: number[] }> = {
    [TENSORS.input]: { type: 'float32', data: Array.from({ length: b * 64 }, (_, i) => (i % 7) / 7), dims: [b, 1, 8, 8] },
    [TENSORS.labels]: { type: intType, data: [0, 1, 4, 2], dims: [b] },
    [TENSORS.lr]: { type: 'float32', data: [0.01], dims: [] },
    [TENSORS.step]: { type: intType, data: [1], dims: [] },
    [TENSORS.seed]: { type: intType, data: [0], dims: [] },
  };
  for (const h of built.manifest.hyperparameters) all[h.name] = { type: 'float32', data: [h.default], dims: [] };
  for (const c of built.manifest.carried) all[c.name] = { type: 'float32', data: Array.from(ck.tensors.get(c.name)!), dims: c.shape };
  for (const kind of ['training', 'eval', 'inference'] as const) {
    const g = built.manifest.graphs[kind];
    const feeds = Object.fromEntries(g.inputs.map((i) => [i.name, all[i.name]!]));
    missing = new Set();
    const gpu = await page.evaluate(([bytes, f]) => (globalThis as unknown as { probe(b: number[], p: string, f: unknown): Promise<{ error?: string }> }).probe(bytes, 'webgpu', f), [Array.from(built.files[g.file]!), feeds] as const);
    const cpu = await page.evaluate(([bytes, f]) => (globalThis as unknown as { probe(b: number[], p: string, f: unknown): Promise<{ error?: string; out?: Record<string, number[]> }> }).probe(bytes, 'wasm', f), [Array.from(built.files[g.file]!), feeds] as const);
    const gOut = (gpu as { out?: Record<string, number[]> }).out;
    const match = gOut && cpu.out ? Object.keys(cpu.out).every((k) => cpu.out![k]!.every((x, i) => Math.abs(x - gOut[k]![i]!) <= 1e-4 * Math.max(1, Math.abs(x)))) : undefined;
    console.log(`${model} | ${loss} | ${kind} (${target}): ${gpu.error ? `CPU needed for ${[...missing].join(', ') || gpu.error}` : `all on WebGPU${match === undefined ? '' : match ? ', outputs match wasm' : ', OUTPUTS DIFFER from wasm'}`}`);
  }
}
await close();
