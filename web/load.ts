// How the page gets ready to classify, fast: choose the backend before any
// runtime is fetched (so the plain wasm build, half the bytes and a third of
// the session-opening time, is all a browser without a hardware WebGPU adapter
// loads), then fetch onnxruntime-web, its wasm and the model at once, every
// byte counted on the load bar, and run the model once on zeros so the first
// real prediction is not the one that pays for warming up.
import type * as OrtWeb from 'onnxruntime-web';
import { ORT_BUILDS, type BundleMeta } from '../src/artifacts/web_bundle.ts';
import type { BackendChoice } from './messages.ts';

export type Ort = typeof OrtWeb;

interface GpuAdapter {
  info?: { isFallbackAdapter?: boolean; vendor?: string; architecture?: string };
  isFallbackAdapter?: boolean;
}

/**
 * WebGPU when the browser has a hardware adapter and the bundle the model's WebGPU form
 * (which runs whole on the GPU); wasm otherwise. A software adapter (Chromium's SwiftShader,
 * which trains about 6× slower than wasm) is declined unless `?backend=webgpu` asks for it.
 */
export async function chooseBackend(meta: BundleMeta, asked: string | null): Promise<BackendChoice> {
  const wasm = (why: string): BackendChoice => ({ build: 'wasm', webgpu: false, why });
  if (asked === 'wasm') return wasm('wasm was asked for');
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapter | null> } }).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  if (!adapter) return wasm('no WebGPU adapter in this browser');
  if ('unavailable' in meta.webgpu) return wasm(`no WebGPU form of this model: ${meta.webgpu.unavailable}`);
  const software = adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  if (software && asked !== 'webgpu') return wasm(`the WebGPU adapter is a software one (${adapter.info?.architecture || adapter.info?.vendor || 'fallback'}), slower than wasm; add ?backend=webgpu to use it anyway`);
  return { build: 'webgpu', webgpu: true, why: '' };
}

/** Progress over a known number of bytes, shown on a <progress> and its label. */
export class LoadBar {
  private loaded = 0;
  constructor(private readonly total: number, private readonly show: (loaded: number, total: number) => void) {
    show(0, total);
  }

  add = (n: number): void => {
    this.loaded += n;
    this.show(Math.min(this.loaded, this.total), this.total);
  };
}

/** A file's bytes, each chunk reported to `onBytes` as it arrives. */
export async function fetchWithProgress(url: string, onBytes: (n: number) => void): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok || !r.body) throw new Error(`${url}: ${r.status} ${r.statusText}`);
  const reader = r.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
    onBytes(value.length);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * onnxruntime-web's chosen build, its wasm and the model, fetched together with
 * every byte on the bar. The wasm is handed to the runtime (env.wasm.wasmBinary)
 * rather than fetched by it, so the bar sees it; the runtime's small JS glue is
 * counted once the runtime has loaded it.
 */
export async function loadRuntime(o: { bundle: string; meta: BundleMeta; choice: BackendChoice; model: string; threads: number; bar: (loaded: number, total: number) => void }): Promise<{ ort: Ort; model: Uint8Array; countGlue(): void }> {
  const files = ORT_BUILDS[o.choice.build];
  const at = (f: string) => `${o.meta.assets.ort}${f}`;
  const size = (path: string) => o.meta.assets.bytes[path] ?? 0;
  const bar = new LoadBar([files.module, files.glue, files.wasm].reduce((a, f) => a + size(at(f)), 0) + size(o.model), o.bar);
  const [ort, wasm, model] = await Promise.all([
    (import(/* the bundle's own copy, chosen at run time */ `${o.bundle}${at(files.module)}`) as Promise<Ort>).then((m) => {
      bar.add(size(at(files.module)));
      return m;
    }),
    fetchWithProgress(`${o.bundle}${at(files.wasm)}`, bar.add),
    fetchWithProgress(`${o.bundle}${o.model}`, bar.add),
  ]);
  ort.env.wasm.wasmPaths = `${o.bundle}${o.meta.assets.ort}`;
  ort.env.wasm.wasmBinary = wasm;
  ort.env.wasm.numThreads = o.threads;
  return { ort, model, countGlue: () => bar.add(size(at(files.glue))) };
}
