import type { Graph, Value } from '../graph/graph.ts';
import type { Range } from '../hyperparameters.ts';

export type { Range };

/** What the model produces for a loss: K class logits, K-1 ordinal thresholds, or an embedding. */
export type Head = 'logits' | 'thresholds' | 'embedding';

/** What a loss requires of its targets (see LossDefinition.targetRule). */
export type TargetRule = 'distribution' | 'probability';

/** Extra data a loss may need beyond logits and labels. */
export type Need = 'targets' | 'weights' | 'hierarchy' | 'embeddings';

/** What the caller hands a loss spec. Values are float32 or float64 (one dtype per graph). */
export interface LossContext {
  g: Graph;
  /** The model output: [B, K], [B, K-1] or [B, D] by the loss's head. */
  logits: Value;
  /** [B] int64 class indices; the spec's ignore_index marks samples that count for nothing. */
  labels: Value;
  /** Number of classes K. */
  classes: number;
  /** [B, K] soft targets, multi-hot labels or regression targets, when the caller supplies them. */
  targets?: Value;
  /** [K] class weights, when the caller supplies them. */
  weights?: Value;
  /** [K-1] importance weights of the ordinal thresholds (CORAL, CORN), when the caller supplies them. */
  importance?: Value;
  /** Named levels of a class hierarchy: for each level, the group of every fine class. */
  hierarchy?: Readonly<Record<string, readonly number[]>>;
  /** [K, D] class embeddings (minmax's trainable label table). */
  embeddings?: Value;
}

/**
 * What a term's `build` reads: the caller's context with the labels made safe
 * to index with. Every term honours the spec's one ignore_index through `keep`.
 */
export interface TermContext extends LossContext {
  /** Labels with ignored entries replaced by 0. */
  labels: Value;
  /** [B] in the logits' dtype: 1 for samples that count, 0 for ignored ones. */
  keep: Value;
  /** [B] bool: the label is the spec's ignore_index. */
  ignored: Value;
  ignoreIndex: number;
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
  /** Valid values of a 'hyper' or 'int' argument, checked at parse time, when bound and when fed. */
  range?: Range;
  /** A per-epoch schedule the driver may apply to this hyperparameter: 'sigma' is --sigma-decay. */
  schedule?: 'sigma';
  /** 'temperature': the targets are compared at this temperature, so a teacher's targets are softened by it. */
  role?: 'temperature';
  doc: string;
}

/** Prediction outputs of the inference (and eval) graph. */
export interface Predictions {
  /** [B, K] class probabilities, or per-class scores in [0, 1] for embedding losses. */
  probabilities: Value;
  /** [B] int64 predicted class. */
  class: Value;
  /** [B] expected class index, for ordinal losses. */
  expectedClass?: Value;
}

export interface PredictContext {
  g: Graph;
  /** The model output. */
  out: Value;
  classes: number;
  /** [K, D] class embeddings, for embedding heads. */
  embeddings?: Value;
  /** The term's fixed (int and choice) arguments. */
  fixed: Readonly<Record<string, string | number>>;
}

export interface LossDefinition {
  name: string;
  /** One line for help texts and error messages. */
  summary: string;
  head: Head;
  args: readonly ArgSpec[];
  /** Data the loss cannot do without. */
  needs?: readonly Need[];
  /** Data it needs only under some fixed arguments, e.g. mse(input=raw) needs targets. */
  needsWhen?(fixed: Readonly<Record<string, string | number>>): readonly Need[];
  /**
   * What its targets must be, checked where data enters: 'distribution' (rows of
   * non-negative values summing to 1, as KL divergence needs) or 'probability'
   * (each value in [0, 1], as binary cross-entropy needs).
   */
  targetRule?: TargetRule;
  /** It honours class weights (--class-weights, "weights" in the probe); a spec none of whose terms does refuses them. */
  classWeights?: boolean;
  /** The classes are ordered: the inference graph also outputs the expected class. */
  ordinal?: boolean;
  /** The model head, where the head kind alone does not decide it: CORAL shares one weight vector over its thresholds. */
  modelHead?: 'coral';
  /** The prediction rule, where softmax and arg-max do not fit (thresholds, embeddings). */
  predict?(ctx: PredictContext): Predictions;
  /** Appends the loss to the graph; returns a scalar. `args` holds every declared argument. */
  build(ctx: TermContext, args: Readonly<Record<string, ArgValue>>): Value;
}
