// `lossgraph demo` (what `npm start` runs until the training driver lands):
// builds artifacts for a model and loss, trains them on Fashion-MNIST through
// the one-graph training step, and reports the loss and test accuracy per epoch.
import { buildArtifacts } from '../artifacts/build.ts';
import { gatherBatch, shuffledBatches } from '../data/batches.ts';
import { fashionMnistDir, readIdxSplit } from '../data/idx.ts';
import type { ExecutionProvider } from '../runtime/session.ts';
import { TrainingSession } from '../runtime/training.ts';

export interface DemoOptions {
  epochs: number;
  batch: number;
  lr: number;
  model: string;
  loss: string;
  optimizer: string;
  seed: number;
  ep: ExecutionProvider;
  data?: string;
  log: (line: string) => void;
}

export interface DemoEpoch {
  epoch: number;
  trainLoss: number;
  testAccuracy: number;
  seconds: number;
}

export async function runDemo(o: DemoOptions): Promise<{ data: string; epochs: DemoEpoch[] }> {
  const dir = o.data ?? fashionMnistDir();
  const train = readIdxSplit(dir, 'train');
  const test = readIdxSplit(dir, 't10k');
  o.log(`data: ${dir} (${train.count} training, ${test.count} test images); model ${o.model}, loss ${o.loss}, optimizer ${o.optimizer}`);
  const built = buildArtifacts({ model: o.model, loss: o.loss, classes: 10, input: [1, train.rows, train.cols], optimizer: o.optimizer, seed: o.seed });
  const session = await TrainingSession.fromBuilt(built, { ep: o.ep });
  const all = gatherBatch(test, Array.from({ length: test.count }, (_, i) => i));
  const epochs: DemoEpoch[] = [];
  for (let e = 0; e < o.epochs; e++) {
    const t0 = performance.now();
    let sum = 0;
    let n = 0;
    for (const b of shuffledBatches(train, o.batch, o.seed * 1000 + e)) {
      sum += await session.runTrainStep(b, o.lr);
      n++;
    }
    const { logits } = await session.runEvalStep(all);
    let correct = 0;
    for (let i = 0; i < test.count; i++) {
      const row = logits.subarray(10 * i, 10 * i + 10);
      if (row.indexOf(Math.max(...row)) === Number(all.labels[i])) correct++;
    }
    const row = { epoch: e + 1, trainLoss: sum / n, testAccuracy: correct / test.count, seconds: (performance.now() - t0) / 1000 };
    epochs.push(row);
    o.log(`epoch ${row.epoch}: train loss ${row.trainLoss.toFixed(4)}, test accuracy ${(100 * row.testAccuracy).toFixed(2)}% (${row.seconds.toFixed(1)} s)`);
  }
  await session.release();
  return { data: dir, epochs };
}
