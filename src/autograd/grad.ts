// Reverse-mode autodiff over a Graph: appends the backward pass to the same
// graph, using ordinary ONNX ops only.
import { GraphError } from '../errors.ts';
import { isFloat } from '../onnx/dtype.ts';
import type { Graph, Node, Value } from '../graph/graph.ts';
import { shapeToString } from '../graph/shape.ts';
import { sumLeadingAxes } from '../graph/sums.ts';
import { gradientRule, hasNoGradient } from './registry.ts';
import './rules/index.ts';
import { formsOf } from '../graph/forms.ts';

export interface GradOptions {
  /** Upstream gradient of `y`; defaults to ones (for a scalar loss, d loss/d loss = 1). */
  seed?: Value;
}

/**
 * Gradients of `y` with respect to each value in `wrt`, in order. Values that
 * `y` does not depend on get zeros. The nodes are appended under scope `grad`.
 */
export function grad(g: Graph, y: Value, wrt: readonly Value[], opts: GradOptions = {}): Value[] {
  for (const w of wrt) {
    if (!isFloat(w.dtype)) throw new GraphError(`grad: cannot differentiate with respect to ${w} (not a float tensor)`);
  }
  return g.scope('grad', () => {
    const path = nodesBetween(g, wrt, y);
    const contributions = new Map<Value, Value[]>();
    const staticShape = y.shape.every((d) => typeof d === 'number') ? (y.shape as number[]) : undefined;
    // The target's forms (graph/forms.ts): the seed, and how fan-out gradients are added up.
    const forms = formsOf(g);
    const seed = opts.seed ?? (forms.gradientSeed === 'constant' && staticShape
      ? g.constant(y.dtype, staticShape, new Array<number>(staticShape.reduce((a, b) => a * b, 1)).fill(1))
      : g.constantOfShape(staticShape ?? g.shape(y), 1, y.dtype));
    contributions.set(y, [seed]);
    const onPath = new Set<Value>(wrt);
    for (const n of path) for (const o of n.outputs) onPath.add(o);

    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i]!;
      const dy = node.outputs.map((o) => total(g, contributions, o, forms.sum === 'chain of Adds'));
      if (dy.every((d) => d === undefined)) continue;
      const rule = gradientRule(node.opType);
      if (!rule) {
        throw new GraphError(`no gradient rule for op ${node.opType} (node '${node.name}'); it cannot appear between the parameters and the loss`);
      }
      const needs = node.inputs.map((v) => v !== null && onPath.has(v) && isFloat(v.dtype));
      const dx = rule({ g, node, x: node.inputs, y: node.outputs, dy, needs });
      node.inputs.forEach((v, k) => {
        const d = dx[k];
        if (!v || !needs[k] || !d) return;
        const list = contributions.get(v) ?? [];
        list.push(unbroadcast(g, d, v, node));
        contributions.set(v, list);
      });
    }
    return wrt.map((w) => total(g, contributions, w, forms.sum === 'chain of Adds') ?? g.zerosLike(w));
  });
}

/** Sums the gradient contributions of a value once (fan-out), caching the result. */
function total(g: Graph, contributions: Map<Value, Value[]>, v: Value, chainOfAdds = false): Value | undefined {
  const list = contributions.get(v);
  if (!list || list.length === 0) return undefined;
  // One Sum node, or (for runtimes without a Sum kernel) a left-to-right chain of Adds: ((a + b) + c) + ….
  if (list.length > 1) contributions.set(v, [chainOfAdds ? list.slice(1).reduce((a, b) => g.add(a, b), list[0]!) : g.sum(list)]);
  return contributions.get(v)![0];
}

/**
 * Nodes on some path from `wrt` to `y`, in graph order, following float values
 * only and stopping at ops declared to have no gradient.
 */
function nodesBetween(g: Graph, wrt: readonly Value[], y: Value): Node[] {
  const reach = new Set<Value>(wrt);
  const forward: Node[] = [];
  for (const n of g.sortedNodes()) {
    if (hasNoGradient(n.opType)) continue;
    if (!n.inputs.some((v) => v && reach.has(v) && isFloat(v.dtype))) continue;
    forward.push(n);
    for (const o of n.outputs) if (isFloat(o.dtype)) reach.add(o);
  }
  if (!reach.has(y)) return [];
  const needed = new Set<Value>([y]);
  const path: Node[] = [];
  for (let i = forward.length - 1; i >= 0; i--) {
    const n = forward[i]!;
    if (!n.outputs.some((o) => needed.has(o))) continue;
    path.push(n);
    for (const v of n.inputs) if (v && reach.has(v)) needed.add(v);
  }
  return path.reverse();
}

/**
 * Reduces a gradient that has the broadcast shape of an op's output back to
 * the shape of the input it belongs to: the one place broadcasting is undone.
 */
export function unbroadcast(g: Graph, d: Value, x: Value, node: Node): Value {
  const gs = d.shape;
  const xs = x.shape;
  if (gs.length === xs.length && gs.every((dim, i) => dim === xs[i])) return d;
  if (gs.length < xs.length) {
    throw new GraphError(`gradient of ${x} at node '${node.name}' has the smaller shape ${shapeToString(gs)}`);
  }
  const lead = gs.length - xs.length;
  const axes: number[] = [];
  for (let i = 0; i < gs.length; i++) {
    if (i < lead) axes.push(i);
    else if (xs[i - lead] === 1 && gs[i] !== 1) axes.push(i);
    else if (xs[i - lead] !== gs[i] && typeof xs[i - lead] === 'number' && typeof gs[i] === 'number') {
      throw new GraphError(`gradient ${shapeToString(gs)} does not broadcast onto ${x} at node '${node.name}'`);
    }
  }
  if (axes.length === 0) return d; // the shapes differ only in the names of symbolic dims
  if (axes.length === lead) return sumLeadingAxes(g, d, lead) ?? g.reduceSum(d, axes, false);
  const kept = g.reduceSum(d, axes, true);
  return lead > 0 ? g.squeeze(kept, Array.from({ length: lead }, (_, i) => i)) : kept;
}
