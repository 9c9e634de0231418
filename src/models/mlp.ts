// A multilayer perceptron: Gemm + ReLU blocks and a linear head producing logits.
import type { Graph, Value } from '../graph/graph.ts';
import type { ParamSpec } from './params.ts';

export interface MlpShape {
  inputs: number;
  hidden: number[];
  classes: number;
}

export function mlpParams({ inputs, hidden, classes }: MlpShape): ParamSpec[] {
  const widths = [inputs, ...hidden, classes];
  return widths.slice(1).flatMap((out, i): ParamSpec[] => {
    const fanIn = widths[i]!;
    return [
      { name: `dense${i}.weight`, shape: [fanIn, out], init: i < hidden.length ? 'he-normal' : 'xavier-uniform', fanIn, fanOut: out },
      { name: `dense${i}.bias`, shape: [out], init: 'zeros', fanIn, fanOut: out },
    ];
  });
}

/** Logits [B, classes] from x [B, inputs]; `params` in the order of mlpParams. */
export function mlpForward(g: Graph, x: Value, params: readonly Value[]): Value {
  let h = x;
  const layers = params.length / 2;
  for (let i = 0; i < layers; i++) {
    h = g.gemm(h, params[2 * i]!, params[2 * i + 1]!);
    if (i < layers - 1) h = g.relu(h);
  }
  return h;
}
