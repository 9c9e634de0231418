// Creates a session on onnxruntime-web's WebGPU provider with CPU fallback
// disabled and runs it; with `verbose`, ONNX Runtime logs every node it cannot
// place on WebGPU ("kernel not found"), which bench/webgpu_ops.ts collects.
import * as ort from './ort.webgpu.min.mjs';
ort.env.wasm.wasmPaths = new URL('./', location.href).href;
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'verbose';
// Plain {type, data, dims} feeds (what page.evaluate can pass) as onnxruntime tensors.
const tensors = (feeds) => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor(v.type, v.type === 'int64' ? BigInt64Array.from(v.data.map(BigInt)) : v.type === 'int32' ? Int32Array.from(v.data) : Float32Array.from(v.data), v.dims)]));
// A session on `provider` ('webgpu' with CPU fallback disabled, or 'wasm') handed to `use`; errors come back as { error }.
// NCHW: onnxruntime-web's default NHWC layout transform adds int64 Gathers that WebGPU cannot run.
const withSession = async (bytes, provider, verbose, use) => {
  const opts = provider === 'wasm'
    ? { executionProviders: ['wasm'] }
    : { executionProviders: [{ name: 'webgpu', preferredLayout: globalThis.layout ?? 'NCHW' }], graphOptimizationLevel: globalThis.optLevel ?? 'all', extra: { session: { disable_cpu_ep_fallback: '1' } }, ...(verbose ? { logSeverityLevel: 0, logVerbosityLevel: 1 } : {}) };
  let s;
  try {
    s = await ort.InferenceSession.create(new Uint8Array(bytes), opts);
  } catch (e) {
    return { error: String(e.message ?? e).slice(0, 300) };
  }
  try {
    return await use(s);
  } catch (e) {
    return { error: String(e.message ?? e).slice(0, 300) };
  } finally {
    await s.release();
  }
};
// One run; the first 8 values of every output. Verbose: ONNX Runtime logs each node it cannot place on WebGPU.
globalThis.probe = (bytes, provider, feeds) => withSession(bytes, provider, true, async (s) => {
  const out = await s.run(tensors(feeds));
  const res = {};
  for (const [k, t] of Object.entries(out)) res[k] = Array.from((await t.getData()).slice(0, 8), Number);
  return { out: res };
});
// n training steps: each step's `X.updated` outputs are the next step's `X` inputs; returns the losses.
globalThis.steps = (bytes, provider, feeds, carried, n) => withSession(bytes, provider, false, async (s) => {
  const f = tensors(feeds);
  const losses = [];
  for (let i = 0; i < n; i++) {
    const out = await s.run(f);
    losses.push(Number((await out.loss.getData())[0]));
    for (const c of carried) f[c] = new ort.Tensor('float32', await out[c + '.updated'].getData(), f[c].dims);
  }
  return { losses };
});
globalThis.ready = true;
