import type { Graph, Value } from '../graph/graph.ts';

/** What the model produces for a loss: K class logits, K-1 ordinal thresholds, or an embedding. */
export type Head = 'logits' | 'thresholds' | 'embedding';

/** Extra data a loss may need beyond logits and labels. */
export type Need = 'targets' | 'weights' | 'hierarchy' | 'embeddings';

/** What a loss term reads. Values are float32 or float64 (one dtype per graph). */
export interface LossContext {
  g: Graph;
  /** The model output: [B, K], [B, K-1] or [B, D] by the loss's head. */
  logits: Value;
  /** [B] int64 class indices. */
  labels: Value;
  /** Number of classes K. */
  classes: number;
  /** [B, K] soft targets or multi-hot labels, when the caller supplies them. */
  targets?: Value;
  /** [K] class weights, when the caller supplies them. */
  weights?: Value;
  /** Named levels of a class hierarchy: for each level, the group of every fine class. */
  hierarchy?: Readonly<Record<string, readonly number[]>>;
  /** [K, D] class embeddings (minmax's trainable label table). */
  embeddings?: Value;
}

export type ArgValue = Value | string | number;

export interface ArgSpec {
  name: string;
  /**
   * 'hyper': a float hyperparameter, fed as a graph input so schedules can change it per step;
   * 'int': a structural integer fixed when the graph is built;
   * 'choice': one of `choices`, fixed when the graph is built.
   */
  kind: 'hyper' | 'int' | 'choice';
  default: number | string;
  choices?: readonly string[];
  doc: string;
}

export interface LossDefinition {
  name: string;
  /** One line for help texts and error messages. */
  summary: string;
  head: Head;
  args: readonly ArgSpec[];
  /** Data the loss cannot do without. */
  needs?: readonly Need[];
  /** Extra data it needs only under some arguments (checked by `build`). */
  /** Appends the loss to the graph; returns a scalar. `args` holds every declared argument. */
  build(ctx: LossContext, args: Readonly<Record<string, ArgValue>>): Value;
}
