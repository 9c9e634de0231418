import type { Graph, Value } from '../graph/graph.ts';

/** What a loss term reads: the model's logits and the integer class labels. */
export interface LossInputs {
  /** B x K, float32 or float64. */
  logits: Value;
  /** B, int64 class indices. */
  labels: Value;
}

export interface LossDefinition {
  name: string;
  /** One line for help texts and error messages. */
  summary: string;
  /** Appends the loss to `g` and returns it as a scalar (mean over the batch). */
  build(g: Graph, inputs: LossInputs): Value;
}
