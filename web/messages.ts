// The messages between the page and its fine-tuning worker (web/worker.ts),
// and the backend choice the page hands down.
import type { OrtBuild } from '../src/artifacts/web_bundle.ts';

/** The backend the page chose, and why not WebGPU when it is not. */
export interface BackendChoice {
  build: OrtBuild;
  /** Whether models open on WebGPU (the WebGPU build also runs wasm, the fallback when that fails). */
  webgpu: boolean;
  why: string;
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
