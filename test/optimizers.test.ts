// One optimizer step of the emitted training graph against an update computed
// here independently: a tiny MLP's gradient by hand, then PyTorch's update
// rules for SGD (momentum, Nesterov, weight decay) and AdamW.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildArtifacts } from '../src/artifacts/build.ts';
import { Rng } from '../src/models/random.ts';
import { TrainingSession } from '../src/runtime/training.ts';

const IN = 4; // 1 x 2 x 2 images
const HIDDEN = 3;
const K = 3;
const B = 5;

type Params = Record<string, number[]>;

/** Cross-entropy of the MLP x -> relu(x W0 + b0) W1 + b1 and its gradient, by hand. */
function lossAndGrad(p: Params, x: number[][], y: number[]): { loss: number; grad: Params } {
  const grad: Params = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.map(() => 0)]));
  let loss = 0;
  x.forEach((xi, i) => {
    const pre = Array.from({ length: HIDDEN }, (_, j) => p['dense0.bias']![j]! + xi.reduce((s, v, r) => s + v * p['dense0.weight']![r * HIDDEN + j]!, 0));
    const h = pre.map((v) => Math.max(0, v));
    const z = Array.from({ length: K }, (_, k) => p['head.bias']![k]! + h.reduce((s, v, j) => s + v * p['head.weight']![j * K + k]!, 0));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    loss += -(z[y[i]!]! - m - Math.log(sum)) / B;
    const dz = e.map((v, k) => (v / sum - (k === y[i] ? 1 : 0)) / B);
    const dh = h.map((_, j) => dz.reduce((s, d, k) => s + d * p['head.weight']![j * K + k]!, 0));
    dz.forEach((d, k) => {
      grad['head.bias']![k]! += d;
      h.forEach((v, j) => (grad['head.weight']![j * K + k]! += v * d));
    });
    dh.forEach((d, j) => {
      if (pre[j]! <= 0) return;
      grad['dense0.bias']![j]! += d;
      xi.forEach((v, r) => (grad['dense0.weight']![r * HIDDEN + j]! += v * d));
    });
  });
  return { loss, grad };
}

async function runSteps(optimizer: string, steps: number, lr: number) {
  const built = buildArtifacts({ model: `mlp:${HIDDEN}`, loss: 'ce', classes: K, input: [1, 2, 2], optimizer, seed: 3 });
  const session = await TrainingSession.fromBuilt(built);
  const start: Params = Object.fromEntries(session.tensors().filter((t) => !t.name.startsWith('opt.')).map((t) => [t.name, Array.from(t.data)]));
  const r = new Rng(9);
  const batches = Array.from({ length: steps }, () => ({
    x: Array.from({ length: B }, () => Array.from({ length: IN }, () => r.normal())),
    y: Array.from({ length: B }, () => r.int(K)),
  }));
  const losses: number[] = [];
  for (const b of batches) {
    losses.push(await session.runTrainStep({ images: Float32Array.from(b.x.flat()), labels: BigInt64Array.from(b.y, BigInt) }, lr));
  }
  const end: Params = Object.fromEntries(session.tensors().filter((t) => !t.name.startsWith('opt.')).map((t) => [t.name, Array.from(t.data)]));
  await session.release();
  return { start, end, batches, losses };
}

function assertParamsClose(actual: Params, expected: Params) {
  for (const [name, values] of Object.entries(expected)) {
    values.forEach((v, i) => assert.ok(Math.abs(actual[name]![i]! - v) < 2e-6 * Math.max(1, Math.abs(v)), `${name}[${i}]: ${actual[name]![i]} vs ${v}`));
  }
}

for (const nesterov of [false, true]) {
  test(`SGD with momentum${nesterov ? ' (Nesterov)' : ''} and weight decay: three steps equal the reference update`, async () => {
    const [mu, wd, lr] = [0.9, 0.01, 0.1];
    const run = await runSteps(`sgd:momentum=${mu},nesterov=${nesterov ? 1 : 0},weight_decay=${wd}`, 3, lr);
    const p: Params = structuredClone(run.start);
    const velocity: Params = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.map(() => 0)]));
    run.batches.forEach((b, s) => {
      const { loss, grad } = lossAndGrad(p, b.x, b.y);
      assert.ok(Math.abs(loss - run.losses[s]!) < 1e-5, `step ${s} loss ${run.losses[s]} vs ${loss}`);
      for (const name of Object.keys(p)) {
        p[name] = p[name]!.map((w, i) => {
          const g = grad[name]![i]! + wd * w;
          const v = (velocity[name]![i] = mu * velocity[name]![i]! + g);
          return w - lr * (nesterov ? g + mu * v : v);
        });
      }
    });
    assertParamsClose(run.end, p);
  });
}

test('AdamW with bias correction and decoupled weight decay: three steps equal the reference update', async () => {
  const [b1, b2, eps, wd, lr] = [0.8, 0.95, 1e-8, 0.1, 0.01];
  const run = await runSteps(`adamw:beta1=${b1},beta2=${b2},eps=${eps},weight_decay=${wd}`, 3, lr);
  const p: Params = structuredClone(run.start);
  const m: Params = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.map(() => 0)]));
  const v: Params = structuredClone(m);
  run.batches.forEach((b, s) => {
    const t = s + 1;
    const { grad } = lossAndGrad(p, b.x, b.y);
    for (const name of Object.keys(p)) {
      p[name] = p[name]!.map((w, i) => {
        const g = grad[name]![i]!;
        m[name]![i] = b1 * m[name]![i]! + (1 - b1) * g;
        v[name]![i] = b2 * v[name]![i]! + (1 - b2) * g * g;
        const mHat = m[name]![i]! / (1 - b1 ** t);
        const vHat = v[name]![i]! / (1 - b2 ** t);
        return w - lr * wd * w - (lr * mHat) / (Math.sqrt(vHat) + eps);
      });
    }
  });
  assertParamsClose(run.end, p);
});

test('optimizer specs: defaults, options and errors', async () => {
  const { parseOptimizerSpec } = await import('../src/optim/optimizers.ts');
  assert.deepEqual(parseOptimizerSpec('sgd'), { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 });
  assert.deepEqual(parseOptimizerSpec('adamw:weight_decay=0.05'), { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 });
  assert.throws(() => parseOptimizerSpec('adam'), /optimizer 'adam' is not known; use sgd or adamw/);
  assert.throws(() => parseOptimizerSpec('sgd:beta1=0.5'), /optimizer option 'beta1=0.5' is not valid for sgd \(options: momentum, nesterov, weight_decay\)/);
});

test('--clip-grad-norm: the update equals the unclipped one scaled by min(1, c / (norm + 1e-6)), PyTorch\'s rule', async () => {
  const spec = { model: 'mlp:6', loss: 'ce + 0.5*label_smoothing', classes: 4, input: [1, 3, 3] as [number, number, number], optimizer: 'sgd:momentum=0', seed: 3 };
  const r = new Rng(8);
  const batch = { images: Float32Array.from({ length: 5 * 9 }, () => r.normal()), labels: BigInt64Array.from([0n, 1n, 3n, 2n, 1n]) };
  const plain = await TrainingSession.fromBuilt(buildArtifacts(spec));
  const before = plain.tensors().map((t) => Float32Array.from(t.data));
  await plain.runTrainStep(batch, 1);
  const g = plain.tensors().map((t, i) => Float64Array.from(t.data, (v, k) => before[i]![k]! - v)); // lr 1: the gradient
  const norm = Math.sqrt(g.reduce((a, d) => a + d.reduce((b, v) => b + v * v, 0), 0));
  for (const c of [norm / 3, 10 * norm]) {
    const clipped = await TrainingSession.fromBuilt(buildArtifacts({ ...spec, clipGradNorm: c }));
    await clipped.runTrainStep(batch, 1);
    assert.ok(Math.abs(clipped.lastStep.gradNorm! - norm) < 1e-5 * norm, `grad norm ${clipped.lastStep.gradNorm} vs ${norm}`);
    const scale = Math.min(1, c / (norm + 1e-6));
    clipped.tensors().forEach((t, i) => t.data.forEach((v, k) => {
      const expected = before[i]![k]! - scale * g[i]![k]!;
      assert.ok(Math.abs(v - expected) < 1e-6 + 1e-5 * Math.abs(expected), `${t.name}[${k}]: ${v} vs ${expected} (scale ${scale})`);
    }));
    assert.deepEqual(Object.keys(clipped.lastStep.terms), ['ce', 'label_smoothing']);
    await clipped.release();
  }
  await plain.release();
  assert.throws(() => buildArtifacts({ ...spec, clipGradNorm: 0 }), /clipGradNorm must be a positive number, got 0/);
});
