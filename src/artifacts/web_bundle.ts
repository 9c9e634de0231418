// The exported web bundle's contract: meta.json (what the page reads besides
// the models), and the messages between the page and its fine-tuning worker.
// Types only; lossgraph export writes it, web/ reads it.

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
  | { type: 'train'; images: Float32Array; labels: Int32Array; steps: number; batch: number; lr: number }
  | { type: 'stop' }
  | { type: 'export' };

interface Common {
  /** Absolute URL of the bundle's model/ folder. */
  modelBase: string;
  /** Absolute URL of the folder holding onnxruntime-web's .mjs/.wasm files. */
  wasmBase: string;
  threads: number;
  /** 'auto': WebGPU when the browser has an adapter and the bundle WebGPU graphs, else wasm. */
  backend: 'auto' | 'wasm';
}

export type FromWorker =
  | { type: 'ready'; classes: string[]; head: string; loss: string; parameters: number; backend: 'webgpu' | 'wasm'; why?: string }
  | { type: 'step'; step: number; loss: number; accuracy: number; evalLoss: number; ms: number; stateOn: string }
  | { type: 'done'; steps: number; stopped: boolean; stepsPerSecond: number }
  | { type: 'exported'; checkpoint: Uint8Array; inference: Uint8Array; accuracy: number }
  | { type: 'error'; message: string };
