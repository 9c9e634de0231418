// A thin session layer over onnxruntime-node (CPU or CUDA) and onnxruntime-web
// (wasm). Both runtimes share onnxruntime-common's API, so one Session type
// serves both; the training step is just `run` with parameters as feeds. No
// Node built-ins here: a page bundles this module with onnxruntime-web
// (`SessionOptions.ort`); Node-only checks live in node.ts.
import type * as ortTypes from 'onnxruntime-common';
import { LossgraphError } from '../errors.ts';
import type { AnyTypedArray, DType } from '../onnx/dtype.ts';

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
  /** Execution providers in order of preference, overriding `ep` (a page asks for ['webgpu', 'wasm']). */
  providers?: string[];
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
  'the CUDA execution provider is not installed: run `npm run install:cuda` on a machine with internet access and CUDA 12 (see README, "CUDA")';

export class Session {
  private constructor(
    private readonly ort: Ort,
    private readonly session: ortTypes.InferenceSession,
    readonly runtime: RuntimeName,
    readonly ep: ExecutionProvider,
  ) {}

  static async create(model: Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
    const runtime = opts.runtime ?? 'node';
    const ep = opts.ep ?? 'cpu';
    if (runtime === 'web' && ep !== 'cpu') throw new LossgraphError(`execution provider '${ep}' is not available in onnxruntime-web here; use cpu (wasm)`);
    const ort = (opts.ort as Ort | undefined) ?? (await ortModule(runtime));
    if (runtime === 'web' && !opts.ort) {
      const env = ort.env as unknown as { wasm: { numThreads: number } };
      env.wasm.numThreads = opts.threads ?? 1;
    }
    const options: ortTypes.InferenceSession.SessionOptions = {
      executionProviders: opts.providers ?? [runtime === 'web' ? 'wasm' : ep],
      graphOptimizationLevel: 'all',
    };
    if (runtime === 'node' && opts.threads) options.intraOpNumThreads = opts.threads;
    try {
      const session = typeof model === 'string'
        ? await ort.InferenceSession.create(model, options)
        : await ort.InferenceSession.create(model, options);
      return new Session(ort, session, runtime, ep);
    } catch (e) {
      const msg = String((e as Error).message ?? e).split('\n')[0];
      if (ep === 'cuda') throw new LossgraphError(`could not start the CUDA execution provider (${msg}); ${CUDA_INSTALL_HINT}`);
      throw new LossgraphError(`onnxruntime could not load the model: ${msg}`);
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** A tensor of this session's runtime. */
  tensor(dtype: DType, data: AnyTypedArray, dims: readonly number[]): OrtTensor {
    return new this.ort.Tensor(dtype === 'float64' ? 'float64' : dtype, data as never, dims);
  }

  /** One run. Fetches all outputs unless `fetches` names some. */
  async run(feeds: Record<string, OrtTensor>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>> {
    return (await (fetches ? this.session.run(feeds, fetches) : this.session.run(feeds))) as Record<string, OrtTensor>;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
