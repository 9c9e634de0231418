// Trainable parameters: their shapes, how they start, and their initial values.
import { Rng } from './random.ts';

/**
 * he-normal: N(0, 2/fanIn), for layers followed by ReLU; xavier-uniform:
 * U(+-sqrt(6/(fanIn+fanOut))), for linear heads and embeddings; coral-bias:
 * CORAL's descending threshold biases (K-1 ... 1)/(K-1).
 */
export type Init = 'he-normal' | 'xavier-uniform' | 'zeros' | 'ones' | 'coral-bias' | 'given';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
  /** Inputs feeding each output unit (He / Xavier scale). */
  fanIn: number;
  fanOut: number;
  /** The initial values of a 'given' parameter (an imported model's weight). */
  data?: Float32Array;
}

export function paramSize(p: ParamSpec): number {
  return p.shape.reduce((a, b) => a * b, 1);
}

/** Initial values for `params`, drawn in order from one seeded stream. */
export function initParams(params: readonly ParamSpec[], seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return params.map((p) => {
    const out = new Float32Array(paramSize(p));
    if (p.init === 'given') {
      // Given values draw nothing from the stream, so the new head starts as it would on any body.
      out.set(p.data!);
    } else if (p.init === 'he-normal') {
      const std = Math.sqrt(2 / p.fanIn);
      for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
    } else if (p.init === 'xavier-uniform') {
      const a = Math.sqrt(6 / (p.fanIn + p.fanOut));
      for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-a, a);
    } else if (p.init === 'ones') {
      out.fill(1);
    } else if (p.init === 'coral-bias') {
      for (let i = 0; i < out.length; i++) out[i] = (out.length - i) / out.length;
    }
    return out;
  });
}
