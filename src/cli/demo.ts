// `lossgraph demo` (what `npm start` runs until the training driver lands):
// trains the MLP with cross-entropy on Fashion-MNIST through the one-graph
// training step, and reports the loss and the test accuracy per epoch.
import { Graph } from '../graph/graph.ts';
import { TRAIN_INPUTS, TRAIN_OUTPUTS, trainingStepGraph, updatedName } from '../artifacts/training_step.ts';
import { gatherBatch, shuffledBatches } from '../data/batches.ts';
import { fashionMnistDir, readIdxSplit } from '../data/idx.ts';
import { mlpForward, mlpParams } from '../models/mlp.ts';
import { initParams } from '../models/params.ts';
import { Session, type ExecutionProvider } from '../runtime/session.ts';
import { TrainingSession } from '../runtime/training.ts';

export interface DemoOptions {
  epochs: number;
  batch: number;
  lr: number;
  hidden: number;
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
  o.log(`data: ${dir} (${train.count} training, ${test.count} test images)`);
  const params = mlpParams({ inputs: 784, hidden: [o.hidden], classes: 10 });
  const step = trainingStepGraph({ inputShape: [784], params, forward: mlpForward, loss: 'ce', classes: 10 });
  const trainer = await TrainingSession.create(step.graph.toBytes(), params, initParams(params, o.seed), { ...TRAIN_INPUTS, ...TRAIN_OUTPUTS, updated: updatedName }, { ep: o.ep });

  const eg = new Graph('eval');
  const ex = eg.input('input', 'float32', ['batch', 784]);
  eg.output(eg.argMax(mlpForward(eg, ex, params.map((p) => eg.input(p.name, 'float32', p.shape))), 1), 'class');
  const evaluator = await Session.create(eg.toBytes(), { ep: o.ep });

  const epochs: DemoEpoch[] = [];
  for (let e = 0; e < o.epochs; e++) {
    const t0 = performance.now();
    let sum = 0;
    let n = 0;
    for (const b of shuffledBatches(train, o.batch, o.seed * 1000 + e)) {
      sum += await trainer.runTrainStep(b.images, [b.size, 784], b.labels, o.lr);
      n++;
    }
    const all = gatherBatch(test, Array.from({ length: test.count }, (_, i) => i));
    const feeds = Object.fromEntries(params.map((p, i) => [p.name, evaluator.tensor('float32', trainer.parameters()[i]!, p.shape)]));
    feeds['input'] = evaluator.tensor('float32', all.images, [test.count, 784]);
    const predicted = (await evaluator.run(feeds))['class']!.data as BigInt64Array;
    let correct = 0;
    predicted.forEach((c, i) => (correct += c === all.labels[i] ? 1 : 0));
    const row = { epoch: e + 1, trainLoss: sum / n, testAccuracy: correct / test.count, seconds: (performance.now() - t0) / 1000 };
    epochs.push(row);
    o.log(`epoch ${row.epoch}: train loss ${row.trainLoss.toFixed(4)}, test accuracy ${(100 * row.testAccuracy).toFixed(2)}% (${row.seconds.toFixed(1)} s)`);
  }
  await trainer.release();
  await evaluator.release();
  return { data: dir, epochs };
}
