// Plain SGD as an ONNX update subgraph: p <- p - lr * dL/dp.
import type { Graph, Value } from '../graph/graph.ts';

export function sgdUpdate(g: Graph, params: readonly Value[], grads: readonly Value[], lr: Value): Value[] {
  return g.scope('sgd', () => params.map((p, i) => g.sub(p, g.mul(lr, grads[i]!))));
}
