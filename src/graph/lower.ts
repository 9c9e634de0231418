// Rewrites nodes that ONNX Runtime's CPU provider runs only in float32 (Conv,
// ConvTranspose, AveragePool, GlobalAveragePool, MaxUnpool) into equivalent ops that have
// float64 kernels. Used to check gradients in double precision; the rewrites
// are themselves checked against the native float32 ops in the tests.
import { intAttr, intsAttr, nodeWindow } from './attrs.ts';
import { convByPatches, convInputGrad, inverseWindowCounts, onesKernel, staticSpatial } from './conv_forms.ts';
import type { Graph, Node, Value } from './graph.ts';

const LOWERED = new Set(['Conv', 'ConvTranspose', 'AveragePool', 'GlobalAveragePool', 'MaxUnpool']);

function rewrite(g: Graph, node: Node): Value {
  const [x, w, b] = node.inputs;
  const y = node.outputs[0]!;
  switch (node.opType) {
    case 'Conv':
      return convByPatches(g, x!, w!, b ?? null, nodeWindow(node, w!.shape.slice(2).map(Number)), intAttr(node, 'group', 1));
    case 'ConvTranspose': {
      const out = convInputGrad(g, x!, w!, staticSpatial(y, 'ConvTranspose'), nodeWindow(node, w!.shape.slice(2).map(Number)));
      return b ? g.add(out, g.reshape(b, [1, -1, ...y.shape.slice(2).map(() => 1)])) : out;
    }
    case 'AveragePool': {
      const kernel = intsAttr(node, 'kernel_shape')!;
      const a = nodeWindow(node, kernel);
      const spatial = staticSpatial(x!, 'AveragePool');
      const sums = g.conv(g.reshape(x!, [-1, 1, ...spatial]), onesKernel(g, kernel, x!.dtype), undefined, a);
      const perChannel = g.reshape(sums, [-1, Number(x!.shape[1]), ...staticSpatial(y, 'AveragePool')]);
      return g.mul(perChannel, inverseWindowCounts(g, spatial, a, intAttr(node, 'count_include_pad', 0) === 1, x!.dtype));
    }
    case 'MaxUnpool': {
      // Values written at their flat indices into zeros of the output shape.
      const shape = node.inputs[2]!;
      const zeros = g.reshape(g.constantOfShape(shape, 0, x!.dtype), [-1]);
      return g.reshape(g.scatterElements(zeros, g.reshape(w!, [-1]), g.reshape(x!, [-1]), 0), shape);
    }
    default: // GlobalAveragePool
      return g.reduceMean(x!, x!.shape.slice(2).map((_, i) => 2 + i), true);
  }
}

/** Lowers every float64 node of the listed kinds in place, repeating until none is left. */
export function lowerForFloat64(g: Graph): void {
  for (;;) {
    const todo = g.nodes.filter((n) => LOWERED.has(n.opType) && n.outputs[0]!.dtype === 'float64');
    if (todo.length === 0) return;
    g.scope('lower', () => {
      for (const node of todo) {
        g.removeNode(node);
        g.assign(node.outputs[0]!, rewrite(g, node));
      }
    });
  }
}
