// The exported web bundle's contract: meta.json (what the page reads besides
// the models), which onnxruntime-web files make up each of its builds, which
// paths are content-hashed (served as immutable), and the messages between
// the page and its fine-tuning worker. lossgraph export writes it, web/ reads it.

/**
 * onnxruntime-web's builds the page chooses between. The plain wasm build is
 * the default: its wasm is 14.2 MB against the WebGPU build's 26.8 MB, and a
 * session opens in a third of the time. The WebGPU build (which runs wasm
 * too) is loaded only when the browser offers a hardware WebGPU adapter.
 */
export const ORT_BUILDS = {
  wasm: { module: 'ort.wasm.min.mjs', glue: 'ort-wasm-simd-threaded.mjs', wasm: 'ort-wasm-simd-threaded.wasm' },
  webgpu: { module: 'ort.webgpu.min.mjs', glue: 'ort-wasm-simd-threaded.asyncify.mjs', wasm: 'ort-wasm-simd-threaded.asyncify.wasm' },
} as const;
export type OrtBuild = keyof typeof ORT_BUILDS;

/** The backend the page chose, and why not WebGPU when it is not. */
export interface BackendChoice {
  build: OrtBuild;
  /** Whether models open on WebGPU (the WebGPU build also runs wasm, the fallback when that fails). */
  webgpu: boolean;
  why: string;
}

/**
 * Paths whose names carry a hash of their bytes (onnxruntime-web's folder,
 * the page and worker bundles): a new export gives new names, so a server may
 * let browsers keep them for a year without asking again.
 */
export const HASHED_ASSET = /^\/(ort-[0-9a-f]{12}\/[^/]+|(page|worker|decoder)-[A-Z0-9]{8}\.js)$/;

/** meta.json: what the page needs besides the models. */
export interface BundleMeta {
  classes: string[];
  /** Ordinal data: the value each class stands for, and its unit (years for UTKFace). */
  ordinal?: { unit: string; values: number[] };
  /** Named coarse levels: fine class -> group index, with the groups' names. */
  hierarchy?: Record<string, { groups: number[]; names: string[] }>;
  /** How an image becomes the model's input: exactly what the Node loader does. */
  preprocess: {
    channels: 1 | 3;
    height: number;
    width: number;
    resize: string;
    scale: string;
    grayscale: string;
    /** How transparency is treated, and camera orientation. */
    alpha: string;
    orientation: string;
  };
  samples: { file: string; label: string }[];
  /** The bundle's content-hashed files. */
  assets: {
    /** The folder of onnxruntime-web's files, e.g. `ort-1a2b3c4d5e6f/`. */
    ort: string;
    /** The fine-tuning worker's bundle, e.g. `worker-ABCD1234.js`. */
    worker: string;
    /** The image decoder's worker bundle, e.g. `decoder-ABCD1234.js`. */
    decoder: string;
    /** Bytes of each file the page fetches to classify (paths from the bundle's root), for its load bar. */
    bytes: Record<string, number>;
  };
  /**
   * The same model's graphs in the forms onnxruntime-web's WebGPU provider runs whole
   * (`--target webgpu`), in model/webgpu/, sharing the checkpoint; or why there are none.
   */
  webgpu: { folder: string } | { unavailable: string };
  run: { model: string; loss: string; data: string; testAccuracy?: number; /** The epoch of the exported checkpoint. */ epoch?: number };
}

export type ToWorker =
  | { type: 'init'; mode: 'existing'; webgpuFolder?: string } & Common
  | { type: 'init'; mode: 'new'; classes: string[]; loss: string } & Common
  | {
    type: 'train';
    images: Float32Array;
    labels: Int32Array;
    /** Labelled images held back from training: their accuracy is reported each step. */
    validation?: { images: Float32Array; labels: Int32Array };
    /** An image the classify panel shows: its prediction by the model being trained is reported each step. */
    preview?: Float32Array;
    steps: number;
    batch: number;
    lr: number;
  }
  | { type: 'preview'; image?: Float32Array }
  | { type: 'stop' }
  | { type: 'export' };

interface Common {
  /** Absolute URL of the bundle's model/ folder. */
  modelBase: string;
  /** Absolute URL of the folder holding onnxruntime-web's .mjs/.wasm files. */
  wasmBase: string;
  /** The page's choice: the worker loads the same build, and tries WebGPU only where the page does. */
  choice: BackendChoice;
  threads: number;
}

export type FromWorker =
  | { type: 'ready'; classes: string[]; head: string; loss: string; parameters: number; backend: 'webgpu' | 'wasm'; why?: string }
  | { type: 'step'; step: number; loss: number; accuracy: number; validation?: number; preview?: { probabilities: number[]; classIndex: number; expected?: number }; ms: number; stateOn: string }
  /** `diverged`: the loss became non-finite at that step; training stopped and the model is back where it was before this run. */
  | { type: 'done'; steps: number; stopped: boolean; stepsPerSecond: number; diverged?: { step: number; loss: number } }
  | { type: 'exported'; checkpoint: Uint8Array; inference: Uint8Array; accuracy: number }
  | { type: 'error'; message: string };
