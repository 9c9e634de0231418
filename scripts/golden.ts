// The golden graphs committed in graphs/: `npm run graphs` writes them, and a
// test checks that building them again gives the same bytes. Each loss graph
// is what `lossgraph loss` runs: the loss and its gradient w.r.t. the logits,
// for a symbolic batch and K = 10 (Fashion-MNIST's classes).
import { FILES, buildArtifacts } from '../src/artifacts/build.ts';
import { FASHION_MNIST_COARSE } from '../src/data/fashion.ts';
import { lossProbeGraph, type ProbeGraphOptions } from '../src/cli/loss.ts';

const FASHION_COARSE = FASHION_MNIST_COARSE.groups;

const loss = (spec: string, o: ProbeGraphOptions = {}) => () => lossProbeGraph(spec, 'batch', 10, o).graph.toBytes();

export const GOLDEN_GRAPHS: Record<string, () => Uint8Array> = {
  'loss_ce.onnx': loss('ce'),
  'loss_ce_weighted.onnx': loss('ce(ignore_index=-1)', { weights: true }),
  'loss_label_smoothing.onnx': loss('label_smoothing(eps=0.1)'),
  'loss_sparse_lsr.onnx': loss('sparse_lsr(eps=0.1)'),
  'loss_kl.onnx': loss('kl(T=2)', { targets: true }),
  'loss_gaussian_kl.onnx': loss('gaussian_kl(sigma=2)'),
  'loss_ce_gaussian_kl.onnx': loss('ce + 0.5*gaussian_kl(sigma=2)'),
  'loss_hierarchical.onnx': loss('0.7*ce + 0.3*hierarchical', { hierarchy: { coarse: FASHION_COARSE } }),
  'loss_minmax.onnx': loss('minmax', { embeddingDim: 16 }),
  'loss_mse.onnx': loss('mse'),
  'loss_l1.onnx': loss('l1'),
  'loss_bce.onnx': loss('bce', { targets: true }),
  'loss_coral.onnx': loss('coral'),
  'loss_corn.onnx': loss('corn'),
  // The MLP 784-128-10 + cross-entropy + SGD training step of the tests.
  'train_step_mlp128_ce_sgd.onnx': () => mlpArtifacts().files[FILES.training]!,
  // A small CNN with batch norm and dropout, Gaussian-KL penalty, AdamW.
  'train_step_cnn8_gaussian_kl_adamw.onnx': () =>
    buildArtifacts({ model: 'cnn:8', loss: 'ce + 0.5*gaussian_kl(sigma=2)', classes: 10, input: [1, 28, 28], optimizer: 'adamw', seed: 1 }).files[FILES.training]!,
};

function mlpArtifacts() {
  return buildArtifacts({ model: 'mlp:128', loss: 'ce', classes: 10, input: [1, 28, 28], optimizer: 'sgd:momentum=0', seed: 1 });
}
