// The exported web bundle's contract: meta.json (what the page reads besides
// the models), which onnxruntime-web files make up each of its builds, and
// which paths are content-hashed (served as immutable). lossgraph export
// writes it, serve serves it, web/ reads it.

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
