// A thin session layer over onnxruntime-node (CPU or CUDA) and onnxruntime-web
// (wasm). Both runtimes share onnxruntime-common's API, so one Session type
// serves both; the training step is just `run` with parameters as feeds. No
// Node built-ins here: a page bundles this module with onnxruntime-web
// (`SessionOptions.ort`); Node-only checks live in node.ts.
import type * as ortTypes from 'onnxruntime-common';
import { ProviderError } from '../errors.ts';
import type { AnyTypedArray, DType } from '../onnx/dtype.ts';
import { WEBGPU_SESSION_OPTIONS } from '../artifacts/contract.ts';

export type ExecutionProvider = 'cpu' | 'cuda';
export type RuntimeName = 'node' | 'web';
export type OrtTensor = ortTypes.Tensor;
type Ort = typeof import('onnxruntime-node');

export interface SessionOptions {
  /** onnxruntime-node (default) or onnxruntime-web's wasm backend. */
  runtime?: RuntimeName;
  /** Execution provider for onnxruntime-node. */
  ep?: ExecutionProvider;
  /** Intra-op threads (0: the runtime's default). */
  threads?: number;
  /** An onnxruntime module to use instead of importing one by name (a page passes onnxruntime-web). */
  ort?: unknown;
  /**
   * Execution providers in order of preference, overriding `ep` (a page asks for ['webgpu'] or ['wasm']).
   * With 'webgpu' first, onnxruntime-web may not quietly run nodes on the CPU: a model it cannot
   * place on the GPU whole fails to load (the caller falls back to wasm and says so).
   */
  providers?: string[];
  /** Outputs onnxruntime-web's WebGPU provider leaves on the GPU (`preferredOutputLocation: 'gpu-buffer'`). */
  gpuOutputs?: readonly string[];
}

const loaded = new Map<RuntimeName, Promise<Ort>>();

/** The onnxruntime module for `runtime`, loaded once. */
export function ortModule(runtime: RuntimeName = 'node'): Promise<Ort> {
  let m = loaded.get(runtime);
  if (!m) {
    m = runtime === 'node' ? import('onnxruntime-node') : (import('onnxruntime-web') as unknown as Promise<Ort>);
    loaded.set(runtime, m);
  }
  return m;
}

export const CUDA_INSTALL_HINT =
  'the CUDA execution provider is not installed: run `npm run install:cuda` on a machine with internet access and the CUDA runtime it asks for (see docs/cuda.md)';

/**
 * The CUDA major version a missing library belongs to, read off its soname:
 * cuBLAS, cudart, NVRTC and nvJitLink carry the CUDA major itself
 * (libcublasLt.so.13 is CUDA 13). cuFFT, cuRAND, cuSPARSE and cuSOLVER number
 * their own releases, so they say nothing about it.
 */
export function cudaMajorOf(lib: string): number | undefined {
  const m = /^lib(?:cublas|cublasLt|cudart|nvrtc|nvJitLink)\.so\.(\d+)/.exec(lib);
  return m ? Number(m[1]) : undefined;
}

/**
 * One line for onnxruntime's report of a CUDA provider that failed to start or
 * to run: which library is missing (and which CUDA or cuDNN major the installed
 * provider was built against), no GPU, out of memory, an old driver. The raw
 * report is a multi-line C++ status; users need the cause.
 */
export function describeCudaFailure(message: string): string {
  const first = message.split('\n')[0]!.trim();
  // The library named right before the loader's complaint is the one missing (the provider itself may be named earlier).
  const lib = (/([\w.+-]+\.so(?:\.\d+)*): cannot open shared object file/.exec(message) ?? /([\w.+-]+\.dll)\D*(?:error 126|could not be found)/i.exec(message))?.[1];
  if (lib) {
    if (/onnxruntime_providers_(cuda|shared)/.test(lib)) return CUDA_INSTALL_HINT;
    const cudnn = /cudnn\w*\.so\.(\d+)/i.exec(lib)?.[1];
    if (/cudnn/i.test(lib)) return `the CUDA provider needs cuDNN${cudnn ? ` ${cudnn}` : ''}, and ${lib} is missing: install cuDNN${cudnn ? ` ${cudnn}` : ''} for the provider's CUDA version and put its lib folder on LD_LIBRARY_PATH (see docs/cuda.md)`;
    const major = cudaMajorOf(lib);
    if (major !== undefined) return `the CUDA provider needs the CUDA ${major} runtime, and ${lib} is missing: install the CUDA ${major} libraries and put them on LD_LIBRARY_PATH (see docs/cuda.md)`;
    if (/cu(fft|rand|sparse|solver)|nvrtc|nvJitLink/i.test(lib)) return `the CUDA provider needs ${lib} from the CUDA runtime it was built against, and it is missing: install that runtime's libraries and put them on LD_LIBRARY_PATH (see docs/cuda.md)`;
    return `the CUDA provider cannot load ${lib}: install it or put its folder on LD_LIBRARY_PATH`;
  }
  if (/AppendExecutionProvider_Cuda: Failed to load shared library/i.test(message)) {
    return `could not load the CUDA execution provider or a library it needs (\`lossgraph doctor\` names which); ${CUDA_INSTALL_HINT}`;
  }
  if (/no CUDA-capable device|cudaErrorNoDevice|CUDA failure 100\b/i.test(message)) return 'no GPU is visible to the CUDA provider: check `nvidia-smi` and CUDA_VISIBLE_DEVICES';
  if (/out of memory|cudaErrorMemoryAllocation|CUDA failure 2\b|Failed to allocate memory/i.test(message)) return 'the GPU ran out of memory: use a smaller --batch or model';
  if (/driver version is insufficient|CUDA failure 35\b|cudaErrorInsufficientDriver/i.test(message)) return 'the NVIDIA driver is too old for the CUDA runtime the provider was built against: update the driver (`lossgraph doctor` names the versions)';
  return `the CUDA execution provider failed: ${first}`;
}

export class Session {
  private constructor(
    private readonly ort: Ort,
    private readonly session: ortTypes.InferenceSession,
    readonly runtime: RuntimeName,
    readonly ep: ExecutionProvider,
    /** Where the model runs: 'cpu', 'cuda', 'wasm' or 'webgpu'. */
    readonly backend: string,
  ) {}

  static async create(model: Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
    const runtime = opts.runtime ?? 'node';
    const ep = opts.ep ?? 'cpu';
    if (runtime === 'web' && ep !== 'cpu') throw new ProviderError(`execution provider '${ep}' is not available in onnxruntime-web here; use cpu (wasm)`);
    const ort = (opts.ort as Ort | undefined) ?? (await ortModule(runtime));
    if (runtime === 'web' && !opts.ort) {
      const env = ort.env as unknown as { wasm: { numThreads: number } };
      env.wasm.numThreads = opts.threads ?? 1;
    }
    const providers = opts.providers ?? [runtime === 'web' ? 'wasm' : ep];
    const webgpu = providers[0] === 'webgpu';
    const options: ortTypes.InferenceSession.SessionOptions = {
      // The WebGPU provider as the artifacts' contract says (NCHW layout; see WEBGPU_SESSION_OPTIONS).
      executionProviders: providers.map((p) => (p === 'webgpu' ? { ...WEBGPU_SESSION_OPTIONS.executionProviders[0] } as ortTypes.InferenceSession.ExecutionProviderConfig : p)),
      graphOptimizationLevel: 'all',
    };
    if (webgpu) {
      options.extra = structuredClone(WEBGPU_SESSION_OPTIONS.extra) as ortTypes.InferenceSession.SessionOptions['extra'];
      if (opts.gpuOutputs?.length) options.preferredOutputLocation = Object.fromEntries(opts.gpuOutputs.map((n) => [n, 'gpu-buffer' as const]));
    }
    if (runtime === 'node' && opts.threads) options.intraOpNumThreads = opts.threads;
    try {
      const session = typeof model === 'string'
        ? await ort.InferenceSession.create(model, options)
        : await ort.InferenceSession.create(model, options);
      return new Session(ort, session, runtime, ep, webgpu ? 'webgpu' : runtime === 'web' ? 'wasm' : ep);
    } catch (e) {
      const full = String((e as Error).message ?? e);
      if (ep === 'cuda') throw new ProviderError(describeCudaFailure(full));
      if (webgpu) throw new ProviderError(`onnxruntime-web's WebGPU provider cannot run this model without the CPU: ${full.split('\n')[0]}`);
      throw new ProviderError(`onnxruntime could not load the model: ${full.split('\n')[0]}`);
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  /** The inputs' declared shapes, by name (numbers, or names of symbolic dimensions); empty where the runtime does not say. */
  get inputShapes(): ReadonlyMap<string, readonly (number | string)[]> {
    const meta = (this.session as { inputMetadata?: readonly ortTypes.InferenceSession.ValueMetadata[] }).inputMetadata ?? [];
    return new Map(meta.flatMap((m) => (m.isTensor ? [[m.name, m.shape] as const] : [])));
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** A tensor of this session's runtime. */
  tensor(dtype: DType, data: AnyTypedArray, dims: readonly number[]): OrtTensor {
    return new this.ort.Tensor(dtype === 'float64' ? 'float64' : dtype, data as never, dims);
  }

  /**
   * An empty feeds object without a prototype: graph inputs may carry user
   * names (loss parameters), and `feeds['__proto__'] = t` on a plain object
   * would set its prototype instead of a feed.
   */
  static feeds(entries: Record<string, OrtTensor> = {}): Record<string, OrtTensor> {
    return Object.assign(Object.create(null) as Record<string, OrtTensor>, entries);
  }

  /** One run. Fetches all outputs unless `fetches` names some. */
  async run(feeds: Record<string, OrtTensor>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>> {
    try {
      return (await (fetches ? this.session.run(feeds, fetches) : this.session.run(feeds))) as Record<string, OrtTensor>;
    } catch (e) {
      // A GPU that fails mid-run (out of memory, say) is the user's to fix: one line, not an internal error.
      if (this.ep === 'cuda') throw new ProviderError(describeCudaFailure(String((e as Error).message ?? e)));
      throw e;
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
