// One gradient rule per op type, registered by op name (the shape of ONNX
// Runtime's gradient_builder_registry and tfjs-core's kernel gradient configs).
import type { Graph, Node, Value } from '../graph/graph.ts';

export interface GradContext {
  readonly g: Graph;
  readonly node: Node;
  /** The node's inputs (null where an optional input is absent). */
  readonly x: readonly (Value | null)[];
  /** The node's outputs. */
  readonly y: readonly Value[];
  /** Upstream gradient of each output; undefined where nothing downstream needs it. */
  readonly dy: readonly (Value | undefined)[];
  /** Which inputs need a gradient. Rules may skip the work for the others. */
  readonly needs: readonly boolean[];
}

/**
 * Returns the gradient of each input, in input order: undefined where it is
 * not needed or is zero. A gradient may keep the output's broadcast shape;
 * the autodiff core reduces it to the input's shape in one place.
 */
export type GradRule = (ctx: GradContext) => readonly (Value | undefined)[];

const rules = new Map<string, GradRule>();

export function registerGradient(opType: string, rule: GradRule): void {
  if (rules.has(opType) || noGradient.has(opType)) throw new Error(`a gradient rule for ${opType} is already registered, or it is declared to have none`);
  rules.set(opType, rule);
}

export function gradientRule(opType: string): GradRule | undefined {
  return rules.get(opType);
}

export function registeredOps(): string[] {
  return [...rules.keys()].sort();
}

const noGradient = new Set<string>();

/**
 * Declares ops through which no gradient flows (their outputs are integer or
 * boolean, or piecewise constant), so that reaching one is not an error. Each
 * rule family declares its own beside its rules.
 */
export function registerNoGradient(...opTypes: string[]): void {
  for (const op of opTypes) {
    if (rules.has(op) || noGradient.has(op)) throw new Error(`${op} already has a gradient rule or a no-gradient declaration`);
    noGradient.add(op);
  }
}

export function hasNoGradient(opType: string): boolean {
  return noGradient.has(opType);
}

/** Every op declared to have no gradient. */
export function noGradientOps(): string[] {
  return [...noGradient].sort();
}

/**
 * Every op the backward pass may emit. Tests assert that emitted backward
 * graphs stay inside this list, so a new rule cannot quietly bring in an op
 * that some runtime (onnxruntime-web, the CUDA provider) lacks.
 */
export const BACKWARD_OPS = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Neg', 'Pow', 'Exp', 'Log', 'Sign', 'Sum', 'Where', 'Cast',
  'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'Equal', 'And',
  'MatMul', 'Gemm', 'Transpose', 'Reshape', 'Squeeze', 'Unsqueeze', 'Expand', 'Slice', 'Pad', 'Concat',
  'Gather', 'GatherElements', 'ScatterElements', 'ReduceSum', 'ReduceProd', 'Shape', 'ConstantOfShape',
  'Conv', 'ConvTranspose', 'MaxPool', 'MaxUnpool', 'BatchNormalization', 'Identity',
]);
