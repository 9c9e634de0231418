// Forms of nodes for ONNX Runtime's CUDA provider, applied to a finished
// training graph (after autodiff, so the gradient rules see the same nodes as
// on the CPU and keep their closed forms).
//
// Training-mode BatchNormalization: the CUDA kernel refuses training_mode=1 at
// opset >= 14 (runtime/cuda_kernels.ts). Lowered here into the batch statistics by
// reductions (mean, then the population variance of the centred input) and
// one inference-mode BatchNormalization fed those statistics, which cuDNN
// runs as one kernel. The node's three outputs (y, batch mean, batch variance)
// keep their values, so the closed-form backward rule, which reads the batch
// statistics from those outputs, is unchanged.
import { floatAttr, intAttr } from './attrs.ts';
import type { Graph, Node, Value } from './graph.ts';

function isTrainingBatchNorm(n: Node): boolean {
  return n.opType === 'BatchNormalization' && intAttr(n, 'training_mode', 0) === 1;
}

function lowerTrainingBatchNorm(g: Graph, node: Node): void {
  const [x, scale, bias] = node.inputs as [Value, Value, Value];
  const [y, mean, variance] = node.outputs;
  const eps = floatAttr(node, 'epsilon', 1e-5);
  const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const m = g.reduceMean(x, axes, true);
  const centred = g.sub(x, m);
  const v = g.reduceMean(g.mul(centred, centred), axes, false);
  const flatMean = g.reshape(m, [-1]);
  g.assign(y!, g.batchNormalization(x, scale, bias, flatMean, v, eps));
  if (mean) g.assign(mean, flatMean);
  if (variance) g.assign(variance, v);
}

/** Rewrites every node of `g` the CUDA provider refuses into an equivalent form it runs. */
export function lowerForCuda(g: Graph): void {
  const todo = g.nodes.filter(isTrainingBatchNorm);
  if (todo.length === 0) return;
  g.scope('cuda', () => {
    for (const node of todo) {
      g.removeNode(node);
      lowerTrainingBatchNorm(g, node);
    }
  });
}
