// What particular losses are for: sparse label smoothing's sign, the Gaussian
// penalty's schedule, the ordinal and embedding prediction rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grad } from '../src/autograd/grad.ts';
import { lossProbeGraph, runLossProbe, type LossProbeInput } from '../src/cli/loss.ts';
import { Graph } from '../src/graph/graph.ts';
import { buildLoss } from '../src/losses/compile.ts';
import { sigmaAtEpoch } from '../src/losses/gaussian_kl.ts';
import { minmaxNearest, minmaxScores } from '../src/losses/minmax.ts';
import { coralPredict, cornPredict } from '../src/losses/ordinal.ts';
import { Rng } from '../src/models/random.ts';
import { Session } from '../src/runtime/session.ts';
import { gradcheck } from './helpers/gradcheck.ts';
import * as ref from './helpers/reference.ts';

function randomInput(seed: number, b: number, k: number): LossProbeInput {
  const r = new Rng(seed);
  return {
    logits: Array.from({ length: b }, () => Array.from({ length: k }, () => r.normal() * 2)),
    labels: Array.from({ length: b }, () => r.int(k)),
  };
}

test('sparse_lsr: the target-logit gradient equals dense label smoothing\'s; non-target gradients are reported', async (t) => {
  for (const k of [3, 10, 100]) {
    const x = randomInput(k, 8, k);
    const sparse = await runLossProbe('sparse_lsr(eps=0.1)', x);
    const dense = await runLossProbe('label_smoothing(eps=0.1)', x);
    let worstOther = 0;
    x.labels.forEach((y, i) => {
      assert.ok(Math.abs(sparse.grad[i]![y]! - dense.grad[i]![y]!) < 1e-12, `K=${k} sample ${i}: ${sparse.grad[i]![y]} vs ${dense.grad[i]![y]}`);
      for (let c = 0; c < k; c++) if (c !== y) worstOther = Math.max(worstOther, Math.abs(sparse.grad[i]![c]! - dense.grad[i]![c]!));
    });
    // The sparse form spreads the smoothing gradient over non-targets in
    // proportion to their probabilities, dense smoothing uniformly: they differ.
    t.diagnostic(`K=${k}: max |non-target gradient difference| sparse vs dense = ${worstOther.toExponential(3)} (per-sample gradients scaled by 1/B, B=8)`);
    assert.ok(worstOther > 0);
  }
});

/** Gradient descent on one sample's logits, each step through the emitted graph. */
async function descend(spec: string, k: number, steps: number): Promise<number> {
  const { graph } = lossProbeGraph(spec, 1, k);
  const s = await Session.create(graph.toBytes());
  const z = new Float64Array(k);
  for (let i = 0; i < steps; i++) {
    const out = await s.run({
      logits: s.tensor('float64', z, [1, k]),
      labels: s.tensor('int64', new BigInt64Array([0n]), [1]),
      [`${spec.split('(')[0]}.eps`]: s.tensor('float64', new Float64Array([0.1]), []),
    });
    const g = out['grad']!.data as Float64Array;
    for (let c = 0; c < k; c++) z[c]! -= 1.0 * g[c]!;
  }
  await s.release();
  const m = Math.max(...z);
  const e = Array.from(z, (v) => Math.exp(v - m));
  return e[0]! / e.reduce((a, b) => a + b, 0);
}

test('sparse_lsr converges to p_y = 1 - eps + eps/K; the published sign does not smooth at all', async () => {
  const k = 5;
  const optimum = 1 - 0.1 + 0.1 / k;
  const derived = await descend('sparse_lsr(eps=0.1)', k, 2000);
  assert.ok(Math.abs(derived - optimum) < 1e-4, `p_y = ${derived}, expected ${optimum}`);
  const dense = await descend('label_smoothing(eps=0.1)', k, 2000);
  assert.ok(Math.abs(dense - optimum) < 1e-4, `dense smoothing reaches ${dense}`);
  const published = await descend('sparse_lsr(eps=0.1, variant=published)', k, 2000);
  assert.ok(published > 0.999, `the published sign keeps pushing p_y to 1 (got ${published})`);
});

test('gaussian_kl: sigma is a graph input, so a schedule changes it without rebuilding', async () => {
  assert.equal(sigmaAtEpoch(0, { sigma0: 2, gamma: 0.5, sigmaMin: 0.3 }), 2);
  assert.equal(sigmaAtEpoch(2, { sigma0: 2, gamma: 0.5, sigmaMin: 0.3 }), 0.5);
  assert.equal(sigmaAtEpoch(5, { sigma0: 2, gamma: 0.5, sigmaMin: 0.3 }), 0.3);
  const x = randomInput(4, 6, 7);
  const { graph, hyperparameters } = lossProbeGraph('gaussian_kl(sigma=2)', 6, 7);
  assert.deepEqual(hyperparameters.map((h) => [h.name, h.default]), [['gaussian_kl.sigma', 2]]);
  const s = await Session.create(graph.toBytes());
  for (const epoch of [0, 1, 2, 3]) {
    const sigma = sigmaAtEpoch(epoch, { sigma0: 2, gamma: 0.6, sigmaMin: 0.5 });
    const out = await s.run({
      logits: s.tensor('float64', Float64Array.from(x.logits.flat()), [6, 7]),
      labels: s.tensor('int64', BigInt64Array.from(x.labels, BigInt), [6]),
      'gaussian_kl.sigma': s.tensor('float64', new Float64Array([sigma]), []),
    });
    const loss = (out['loss']!.data as Float64Array)[0]!;
    assert.ok(Math.abs(loss - ref.gaussianKl(x, sigma)) < 1e-9, `epoch ${epoch}, sigma ${sigma}: ${loss}`);
  }
});

test('gaussian_kl builds its target inside the graph: no B x K input exists', () => {
  const { graph } = lossProbeGraph('ce + 0.5*gaussian_kl(sigma=2)', 'batch', 10);
  assert.deepEqual(graph.inputs.map((v) => v.name), ['logits', 'labels', 'gaussian_kl.sigma']);
});

test('minmax: gradients w.r.t. the class embeddings pass finite differences', async () => {
  for (const distance of ['cosine', 'l2']) {
    const r = await gradcheck(
      (g, [f, e, y]) => buildLoss(`minmax(distance=${distance})`, { g, logits: f!, labels: y!, classes: 4, embeddings: e! }, { bake: true }).loss,
      [{ name: 'f', shape: [3, 2] }, { name: 'e', shape: [4, 2] }, { name: 'y', shape: [3], data: [0, 3, 1], dtype: 'int64' }],
      { seed: 5 },
    );
    assert.ok(r.maxRelError < 1e-6, `${distance}: ${r.maxRelError} at ${r.worst}`);
  }
});

async function evalGraph(build: (g: Graph) => void, feeds: Record<string, [Float64Array, number[]]>) {
  const g = new Graph('predict');
  build(g);
  const s = await Session.create(g.toBytes());
  return s.run(Object.fromEntries(Object.entries(feeds).map(([k, [d, dims]]) => [k, s.tensor('float64', d, dims)])));
}

test('ordinal prediction rules: CORAL counts thresholds passed, CORN multiplies conditionals', async () => {
  // z for K = 4 (3 thresholds). CORAL: count of z > 0. CORN: prod of sigmoids > 0.5.
  const z = Float64Array.from([3, 2, -1, 3, -2, 5, -1, 1, 1, 0.2, 0.2, 0.2]);
  const out = await evalGraph((g) => {
    const x = g.input('z', 'float64', [4, 3]);
    g.output(coralPredict(g, x), 'coral');
    g.output(cornPredict(g, x, 4), 'corn');
  }, { z: [z, [4, 3]] });
  assert.deepEqual(Array.from(out['coral']!.data as BigInt64Array, Number), [2, 2, 2, 3]);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const cornRef = [0, 1, 2, 3].map((b) => {
    let p = 1;
    let n = 0;
    for (let k = 0; k < 3; k++) {
      p *= sig(z[3 * b + k]!);
      if (p > 0.5) n++;
    }
    return n;
  });
  assert.deepEqual(Array.from(out['corn']!.data as BigInt64Array, Number), cornRef);
  assert.deepEqual(cornRef, [2, 1, 0, 1]); // sigmoid(0.2) = 0.55 passes the first threshold only
});

test('minmax prediction: per-class scores sigmoid(5 cos) > 0.5, and the nearest class', async () => {
  const e = Float64Array.from([1, 0, 0, 1, -1, 0]); // three classes in 2-D
  const f = Float64Array.from([2, -0.1, 0.7, 0.7, -1, -0.2]);
  const out = await evalGraph((g) => {
    const fv = g.input('f', 'float64', [3, 2]);
    const ev = g.input('e', 'float64', [3, 2]);
    const { scores, on } = minmaxScores(g, fv, ev);
    g.output(scores, 'scores');
    g.output(g.cast(on, 'int64'), 'on');
    g.output(minmaxNearest(g, fv, ev), 'nearest');
  }, { f: [f, [3, 2]], e: [e, [3, 2]] });
  // sigmoid(5 cos) > 0.5 means cos > 0. The second sample sits between classes 0
  // and 1: both are on (multi-label); the nearest is the first of the tie.
  assert.deepEqual(Array.from(out['on']!.data as BigInt64Array, Number), [1, 0, 0, 1, 1, 0, 0, 0, 1]);
  assert.deepEqual(Array.from(out['nearest']!.data as BigInt64Array, Number), [0, 0, 2]);
});

test('named parameters and hyperparameters become graph inputs with their defaults', () => {
  const { graph, hyperparameters } = lossProbeGraph('w*ce + (1-w)*label_smoothing(eps=0.05) + 0.1*sparse_lsr', 'batch', 10, { params: { w: 0.3 } });
  assert.deepEqual(hyperparameters.map((h) => [h.name, h.default]), [['w', 0.3], ['label_smoothing.eps', 0.05], ['sparse_lsr.eps', 0.1]]);
  assert.deepEqual(graph.inputs.map((v) => v.name).slice(2), ['w', 'label_smoothing.eps', 'sparse_lsr.eps']);
});

test('a term used twice gets its own hyperparameter inputs', () => {
  const { hyperparameters } = lossProbeGraph('gaussian_kl(sigma=1) + gaussian_kl(sigma=3)', 'batch', 10);
  assert.deepEqual(hyperparameters.map((h) => [h.name, h.default]), [['gaussian_kl.sigma', 1], ['gaussian_kl#2.sigma', 3]]);
});

test('the backward of every loss stays inside the allowed ops', async () => {
  const { assertBackwardOps, assertStandardOnnx } = await import('./helpers/standard.ts');
  for (const spec of ['label_smoothing', 'sparse_lsr', 'gaussian_kl', 'coral', 'corn', 'mse', 'l1']) {
    const { graph } = lossProbeGraph(spec, 'batch', 6);
    assertStandardOnnx(graph.toBytes(), spec);
    assertBackwardOps(graph.toBytes(), spec);
  }
  const g = new Graph('x');
  const f = g.input('f', 'float32', ['batch', 3]);
  const e = g.input('e', 'float32', [5, 3]);
  const { loss } = buildLoss('minmax(distance=l2)', { g, logits: f, labels: g.input('y', 'int64', ['batch']), classes: 5, embeddings: e });
  grad(g, loss, [f, e]).forEach((d, i) => g.output(d, `d${i}`));
  assertBackwardOps(g.toBytes(), 'minmax');
});
