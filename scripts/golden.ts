// The golden graphs committed in graphs/: `npm run graphs` writes them, and a
// test checks that building them again gives the same bytes.
import { trainingStepGraph } from '../src/artifacts/training_step.ts';
import { lossProbeGraph } from '../src/cli/loss.ts';
import { mlpForward, mlpParams } from '../src/models/mlp.ts';

export const GOLDEN_GRAPHS: Record<string, () => Uint8Array> = {
  // Cross-entropy and its gradient w.r.t. the logits, as `lossgraph loss` runs it.
  'loss_ce.onnx': () => lossProbeGraph('ce', 'batch', 10).graph.toBytes(),
  // The MLP 784-128-10 + cross-entropy + SGD training step of the tests and the demo.
  'train_step_mlp128_ce_sgd.onnx': () =>
    trainingStepGraph({ inputShape: [784], params: mlpParams({ inputs: 784, hidden: [128], classes: 10 }), forward: mlpForward, loss: 'ce', classes: 10 }).graph.toBytes(),
};
