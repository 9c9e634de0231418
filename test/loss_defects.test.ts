// Regression tests for the defects an independent audit of the loss library
// found (issue 8). Each fails on the code before the fix. References are the
// plain float64 definitions in helpers/reference.ts, not the graph code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { grad } from '../src/autograd/grad.ts';
import { lossProbeGraph, runLossProbe, type LossProbeInput } from '../src/cli/loss.ts';
import { LossgraphError } from '../src/errors.ts';
import { Graph } from '../src/graph/graph.ts';
import { buildLoss } from '../src/losses/compile.ts';
import { parseLossSpec } from '../src/losses/loss_spec.ts';
import { sigmaAtEpoch } from '../src/losses/gaussian_kl.ts';
import { lossDefinition } from '../src/losses/registry.ts';
import { Rng } from '../src/models/random.ts';
import { Session } from '../src/runtime/session.ts';
import * as ref from './helpers/reference.ts';

const near = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

// 1. sparse_lsr's target-logit gradient at confident logits.
test('sparse_lsr: target gradient equals dense smoothing at every logit scale, float64 and float32', async () => {
  for (const scale of [1, 14, 20, 40, 100, 1e3, 1e4]) {
    const x: LossProbeInput = { logits: [[scale, 0, 0, 0], [0, scale, -scale, 0]], labels: [0, 1] };
    const dense64 = await runLossProbe('label_smoothing(eps=0.1)', x);
    const sparse64 = await runLossProbe('sparse_lsr(eps=0.1)', x);
    const sparse32 = await runLossProbe('sparse_lsr(eps=0.1)', x, {}, 'float32');
    x.labels.forEach((y, i) => {
      const d = dense64.grad[i]![y]!;
      assert.ok(near(sparse64.grad[i]![y]!, d, 1e-6), `|z| = ${scale}, float64: ${sparse64.grad[i]![y]} vs dense ${d}`);
      // float32: log-probabilities of size |z| carry rounding of float32's spacing there, 2^-23 |z|.
      assert.ok(Math.abs(sparse32.grad[i]![y]! - d) <= 4 * 2 ** -23 * Math.max(1, scale), `|z| = ${scale}, float32: ${sparse32.grad[i]![y]} vs dense ${d}`);
    });
    assert.ok(near(sparse64.loss, ref.sparseLsr(x, 0.1), 1e-9), `|z| = ${scale}: loss ${sparse64.loss} vs ${ref.sparseLsr(x, 0.1)}`);
    assert.ok(Number.isFinite(sparse32.loss));
  }
  // The audit's case: at [20, 0, 0, 0] dense smoothing's target gradient is 0.075 / B, the old clamp gave ~6e-9.
  const x = { logits: [[20, 0, 0, 0]], labels: [0] };
  const g = (await runLossProbe('sparse_lsr(eps=0.1)', x)).grad[0]![0]!;
  assert.ok(Math.abs(g - 0.075) < 1e-6, `target gradient ${g}; dense smoothing gives p_y - 0.925 = 0.075`);
});

test('sparse_lsr variant=published keeps the seed\'s clamp (its gradient vanishes when confident)', async () => {
  const x = { logits: [[20, 0, 0, 0]], labels: [0] };
  const out = await runLossProbe('sparse_lsr(eps=0.1, variant=published)', x);
  assert.ok(near(out.loss, ref.sparseLsr(x, 0.1, 'published'), 1e-9));
  assert.ok(Math.abs(out.grad[0]![0]!) < 1e-7, `the seed's code has a dead zone here: ${out.grad[0]![0]}`);
});

// 2. gaussian_kl at small sigma.
test('gaussian_kl: finite loss and gradient for sigma from 1e-30 to 1e3, float32 and float64; the one-hot limit is ce', async () => {
  const r = new Rng(3);
  const x: LossProbeInput = { logits: Array.from({ length: 3 }, () => Array.from({ length: 6 }, () => r.normal() * 3)), labels: [0, 5, 2] };
  for (const sigma of [1e-30, 1e-19, 1e-10, 1e-3, 0.1, 1, 10, 1e3]) {
    for (const dtype of ['float64', 'float32'] as const) {
      const out = await runLossProbe(`gaussian_kl(sigma=${sigma})`, x, {}, dtype);
      assert.ok(Number.isFinite(out.loss), `sigma ${sigma} ${dtype}: loss ${out.loss}`);
      assert.ok(out.grad.flat().every(Number.isFinite), `sigma ${sigma} ${dtype}: gradient not finite`);
      const expected = ref.gaussianKl(x, sigma);
      assert.ok(near(out.loss, expected, dtype === 'float64' ? 1e-9 : 1e-5), `sigma ${sigma} ${dtype}: ${out.loss} vs ${expected}`);
    }
  }
  const tiny = await runLossProbe('gaussian_kl(sigma=1e-30)', x);
  assert.ok(near(tiny.loss, ref.ce(x), 1e-12), `sigma -> 0 gives ce: ${tiny.loss} vs ${ref.ce(x)}`);
});

test('gaussian_kl: sigma <= 0 is refused as a literal, as a bound parameter and when fed', async () => {
  for (const spec of ['gaussian_kl(sigma=0)', 'gaussian_kl(sigma=-1)', 'ce + gaussian_kl(sigma=-2)', 'gaussian_kl(sigma=1-1)']) {
    assert.throws(() => parseLossSpec(spec), /'sigma' of 'gaussian_kl' is -?\d+; it must be > 0 at column/, spec);
  }
  assert.throws(() => lossProbeGraph('ce + gaussian_kl(sigma=s)', 'batch', 5, { params: { s: 0 } }), /parameter 's' = 0 is given as 'sigma' of 'gaussian_kl', which must be > 0/);
  assert.throws(() => lossProbeGraph('gaussian_kl(sigma=2*s)', 'batch', 5, { params: { s: -1 } }), /'sigma' of 'gaussian_kl' is -2 with the bound parameters; it must be > 0/);
  const { TrainingSession } = await import('../src/runtime/training.ts');
  const { buildArtifacts } = await import('../src/artifacts/build.ts');
  const session = await TrainingSession.fromBuilt(buildArtifacts({ model: 'mlp:4', loss: 'ce + gaussian_kl(sigma=2)', classes: 3, input: [1, 2, 2], optimizer: 'sgd', seed: 0 }));
  assert.throws(() => session.setHyperparameter('gaussian_kl.sigma', 0), /hyperparameter 'gaussian_kl.sigma' cannot be 0; it must be > 0/);
  assert.throws(() => session.setHyperparameter('gaussian_kl.sigma', Number.NaN), /cannot be NaN/);
  session.setHyperparameter('gaussian_kl.sigma', 1e-30);
  await session.release();
});

test('sigma schedules: decay of sigma or of the variance', () => {
  assert.equal(sigmaAtEpoch(2, { sigma0: 2, gamma: 0.25, sigmaMin: 0.01 }), 0.125);
  assert.equal(sigmaAtEpoch(2, { sigma0: 2, gamma: 0.25, sigmaMin: 0.01, of: 'variance' }), 0.5);
  assert.equal(sigmaAtEpoch(9, { sigma0: 2, gamma: 0.25, sigmaMin: 0.01, of: 'variance' }), 0.01);
});

// 3. Every argument's range.
const outOfRange: [string, RegExp][] = [
  ['label_smoothing(eps=1.5)', /'eps' of 'label_smoothing' is 1.5; it must be in \[0, 1\] at column 17/],
  ['label_smoothing(eps=-0.1)', /'eps' of 'label_smoothing' is -0.1; it must be in \[0, 1\]/],
  ['sparse_lsr(eps=-0.5)', /'eps' of 'sparse_lsr' is -0.5; it must be in \[0, 1\] at column 12/],
  ['kl(T=-1)', /'T' of 'kl' is -1; it must be > 0/],
  ['kl(T=0)', /'T' of 'kl' is 0; it must be > 0/],
  ['minmax(lambda=-1)', /'lambda' of 'minmax' is -1; it must be >= 0/],
  ['minmax(distance=l2, margin=-3)', /'margin' of 'minmax' is -3; it must be >= 0/],
  ['-0.5*ce', /the weight of 'ce' is -0.5; a term's weight must be >= 0/],
  ['ce - 2*gaussian_kl', /the weight of 'gaussian_kl' is -2/],
];
for (const [spec, message] of outOfRange) {
  test(`range: '${spec}' is refused in one line`, () => {
    assert.throws(() => parseLossSpec(spec), (e: Error) => e instanceof LossgraphError && !e.message.includes('\n') && message.test(e.message));
  });
}

test('range: a bound parameter outside its argument\'s range, and a negative weight through a parameter', () => {
  assert.throws(() => lossProbeGraph('label_smoothing(eps=e)', 'batch', 5, { params: { e: 2 } }), /parameter 'e' = 2 is given as 'eps' of 'label_smoothing', which must be in \[0, 1\]/);
  assert.throws(() => lossProbeGraph('w*ce + (1-w)*label_smoothing', 'batch', 5, { params: { w: 1.5 } }), /the weight of 'label_smoothing' is -0.5/);
  assert.doesNotThrow(() => lossProbeGraph('w*ce + (1-w)*label_smoothing', 'batch', 5, { params: { w: 0.5 } }));
});

// 4. Terms inside arguments.
const termInArgument: [string, RegExp][] = [
  ['ce + gaussian_kl(sigma=ce)', /'ce' is a loss term and cannot be an argument of 'gaussian_kl' .* at column 24/],
  ['gaussian_kl(sigma=ce*ce)', /'ce' is a loss term and cannot be an argument of 'gaussian_kl' .* at column 19/],
  ['ce + gaussian_kl(sigma=coral)', /'coral' is a loss term and cannot be an argument/],
  ['label_smoothing(eps=0.1*mse)', /'mse' is a loss term and cannot be an argument of 'label_smoothing'/],
];
for (const [spec, message] of termInArgument) {
  test(`arguments: '${spec}' is refused`, () => assert.throws(() => parseLossSpec(spec), message));
}

// 5. Parameter names never collide with argument inputs.
test('parameters: a name with a dot is refused, in the spec and in --param', async () => {
  assert.throws(() => parseLossSpec('gaussian_kl.sigma*ce + gaussian_kl(sigma=3)'), /'gaussian_kl.sigma' is not a valid parameter name: parameter names cannot contain '.'.* at column 1/);
  const { parseParams } = await import('../src/cli/args.ts');
  assert.throws(() => parseParams(['gaussian_kl.sigma=0.5']), /--param gaussian_kl.sigma=0.5: parameter names cannot contain '.'/);
});

// 6. Every float argument is a graph input; schedules reach it or refuse.
test('arguments: constant arithmetic is folded into the argument\'s graph input', () => {
  for (const [spec, name, value] of [
    ['gaussian_kl(sigma=2*1)', 'gaussian_kl.sigma', 2],
    ['gaussian_kl(sigma=(3))', 'gaussian_kl.sigma', 3],
    ['label_smoothing(eps=1/10)', 'label_smoothing.eps', 0.1],
    ['kl(T=-(-2))', 'kl.T', 2],
  ] as const) {
    const { hyperparameters } = lossProbeGraph(spec, 'batch', 5, { targets: true });
    assert.deepEqual(hyperparameters.map((h) => [h.name, h.default]), [[name, value]], spec);
  }
});

test('schedules: --sigma-decay refuses a sigma it cannot reach, and a parameter shared with a weight', async () => {
  const { buildArtifacts } = await import('../src/artifacts/build.ts');
  const { checkSigmaSchedule } = await import('../src/train/schedules.ts');
  const { DEFAULT_CONFIG } = await import('../src/train/config.ts');
  const manifest = (loss: string, lossParams: Record<string, number> = {}) =>
    buildArtifacts({ model: 'mlp:4', loss, classes: 4, input: [1, 2, 2], optimizer: 'sgd', seed: 0, lossParams }).manifest;
  const config = { ...DEFAULT_CONFIG, data: 'embedded', model: 'mlp:4', loss: '', sigmaDecay: 0.5 };
  assert.throws(() => checkSigmaSchedule(manifest('ce + gaussian_kl(sigma=2*s)', { s: 1 }), config), /--sigma-decay cannot drive 'sigma' of 'gaussian_kl' \(sigma=2\*s\)/);
  assert.throws(() => checkSigmaSchedule(manifest('s*ce + gaussian_kl(sigma=s)', { s: 1 }), config), /--sigma-decay cannot drive parameter 's', which is also used as weight/);
  assert.doesNotThrow(() => checkSigmaSchedule(manifest('ce + gaussian_kl(sigma=s)', { s: 1 }), config));
  assert.doesNotThrow(() => checkSigmaSchedule(manifest('ce + gaussian_kl(sigma=2*1)'), config));
  assert.throws(() => checkSigmaSchedule(manifest('ce + gaussian_kl'), { ...config, sigmaMin: 0 }), /--sigma-min must be > 0/);
  assert.throws(() => checkSigmaSchedule(manifest('ce'), config), /--sigma-decay needs a loss with a sigma/);
  // A parameter called sigma used only as a weight is not a sigma: the schedule does not touch it.
  assert.throws(() => checkSigmaSchedule(manifest('sigma*ce', { sigma: 1 }), config), /--sigma-decay needs a loss with a sigma/);
});

// 7. One ignore_index for the whole spec.
test('ignore_index: every term honours it, no internal error, no training towards class 0', async () => {
  const x: LossProbeInput = { logits: [[1, 2, 0.5, -1], [3, -2, 0, 1], [0.2, 0.1, 2, 1]], labels: [2, -100, 3], hierarchy: { coarse: [0, 0, 1, 1] } };
  const kept: LossProbeInput = { ...x, logits: [x.logits[0]!, x.logits[2]!], labels: [2, 3] };
  for (const [spec, f] of [
    ['ce + hierarchical', (v: LossProbeInput) => ref.ce(v) + ref.hierarchical(v, [0, 0, 1, 1])],
    ['ce + sparse_lsr', (v: LossProbeInput) => ref.ce(v) + ref.sparseLsr(v, 0.1)],
    ['ce + gaussian_kl', (v: LossProbeInput) => ref.ce(v) + ref.gaussianKl(v, 1)],
    ['ce + mse + l1', (v: LossProbeInput) => ref.ce(v) + ref.mse(v) + ref.l1(v)],
    ['label_smoothing + 0.5*sparse_lsr(eps=0.2)', (v: LossProbeInput) => ref.labelSmoothing(v, 0.1) + 0.5 * ref.sparseLsr(v, 0.2)],
  ] as const) {
    const out = await runLossProbe(spec, x);
    assert.ok(near(out.loss, f(kept), 1e-9), `${spec}: ${out.loss} vs ${f(kept)}`);
    assert.ok(out.grad[1]!.every((v) => v === 0), `${spec}: the ignored sample has gradient ${out.grad[1]}`);
  }
  // ce(ignore_index=-3) + sparse_lsr: -3 is ignored by both, not wrapped to a class.
  const y3 = { ...x, labels: [2, -3, 3] };
  const out = await runLossProbe('ce(ignore_index=-3) + sparse_lsr', y3);
  assert.ok(near(out.loss, ref.ce(kept) + ref.sparseLsr(kept, 0.1), 1e-9));
  assert.throws(() => parseLossSpec('ce(ignore_index=-1) + label_smoothing(ignore_index=-2)'), /'label_smoothing' ignores label -2 but 'ce' ignores -1; a spec has one ignore_index/);
  // Every sample ignored: 0, not NaN.
  const all = await runLossProbe('ce + gaussian_kl + corn', { logits: [[1, 2, 3]], labels: [-100] }).catch((e: Error) => e);
  assert.ok(all instanceof LossgraphError, 'ce (K logits) and corn (K-1 thresholds) cannot be combined');
  const none = await runLossProbe('ce + sparse_lsr + gaussian_kl', { logits: [[1, 2, 3]], labels: [-100] });
  assert.equal(none.loss, 0);
  assert.ok(none.grad.flat().every((v) => v === 0));
});

test('ignore_index: coral and corn skip ignored samples too', async () => {
  const x: LossProbeInput = { logits: [[1, -2, 0.5], [3, -2, 0], [0.2, 0.1, 2]], labels: [2, -100, 3] };
  const kept = { ...x, logits: [x.logits[0]!, x.logits[2]!], labels: [2, 3] };
  for (const [spec, f] of [['coral', ref.coral], ['corn', ref.corn]] as const) {
    const out = await runLossProbe(spec, x);
    assert.ok(near(out.loss, f(kept), 1e-9), `${spec}: ${out.loss} vs ${f(kept)}`);
  }
});

// 8. Spec-language edges.
const edges: [string, RegExp][] = [
  ['label_smoothing(reduction=sum, 0.2)', /positional argument of 'label_smoothing' after a keyword argument .* at column 32/],
  ['ce/0', /division by zero at column 3/],
  ['1e400*gaussian_kl', /number '1e400' is too large at column 1/],
  ['1e300*1e300*ce', /'\*' overflows to Infinity at column 6/],
  ['ce + 3', /'\+' adds a constant to a loss term; a spec is a weighted sum of loss terms.* at column 4/],
  ['3 - ce', /'-' adds a constant to a loss term/],
  ['2*(ce + 1)', /'\+' adds a constant to a loss term/],
  [`${'('.repeat(20000)}ce${')'.repeat(20000)}`, /loss spec is 40002 characters long; at most 4096 are accepted/],
  [`${'('.repeat(1000)}ce${')'.repeat(1000)}`, /nesting deeper than 100 levels at column 101/],
  [`${'-'.repeat(500)}ce`, /nesting deeper than 100 levels/],
];
for (const [spec, message] of edges) {
  test(`spec edge: '${spec.length > 40 ? `${spec.slice(0, 20)}...` : spec}' is refused in one line`, () => {
    assert.throws(() => parseLossSpec(spec), (e: Error) => e instanceof LossgraphError && !e.message.includes('\n') && message.test(e.message));
  });
}

test('spec edge: a long flat sum within the length limit builds', () => {
  const spec = Array.from({ length: 600 }, () => 'ce').join('+');
  const g = new Graph('long');
  const { loss } = buildLoss(spec, { g, logits: g.input('z', 'float32', ['batch', 3]), labels: g.input('y', 'int64', ['batch']), classes: 3 }, { bake: true });
  assert.equal(loss.rank, 0);
});

test('CLI: the audit\'s inputs give one line and exit code 2', () => {
  const probe = '{"logits":[[1,2,3],[0,0,5]],"labels":[2,-100]}';
  for (const [spec, params] of [
    ['ce + gaussian_kl(sigma=ce)', []],
    ['label_smoothing(eps=1.5)', []],
    ['ce/0', []],
    ['gaussian_kl(sigma=0)', []],
    ['gaussian_kl.sigma*ce + gaussian_kl(sigma=3)', ['--param', 'gaussian_kl.sigma=0.5']],
    [`${'('.repeat(20000)}ce${')'.repeat(20000)}`, []],
  ] as const) {
    const r = spawnSync(process.execPath, ['bin/lossgraph.js', 'loss', '--spec', spec, ...params], { input: probe, encoding: 'utf8' });
    assert.equal(r.status, 2, `${spec.slice(0, 40)}: exit ${r.status}, ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error|NaN|    at /);
  }
  // ce + hierarchical with an ignored label: a value, not an onnxruntime error.
  const ok = spawnSync(process.execPath, ['bin/lossgraph.js', 'loss', '--spec', 'ce + hierarchical'], { input: '{"logits":[[1,2,3],[0,0,5]],"labels":[2,-100],"groups":[0,0,1]}', encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(Number.isFinite(JSON.parse(ok.stdout).loss));
});

// 9. minmax's cosine push spreads the classes apart.
async function descendClassTable(spec: string, k: number, d: number, seed: number, steps: number): Promise<number> {
  const g = new Graph('push');
  const e = g.input('e', 'float64', [k, d]);
  // No samples: the loss is the push term alone (labels all ignored, so the pull term is 0).
  const { loss } = buildLoss(spec, { g, logits: g.input('f', 'float64', [1, d]), labels: g.input('y', 'int64', [1]), classes: k, embeddings: e }, { bake: true });
  g.output(grad(g, loss, [e])[0]!, 'de');
  const s = await Session.create(g.toBytes());
  const r = new Rng(seed);
  const table = Float64Array.from({ length: k * d }, () => r.normal());
  for (let i = 0; i < steps; i++) {
    const out = await s.run({ e: s.tensor('float64', table, [k, d]), f: s.tensor('float64', new Float64Array(d).fill(1), [1, d]), y: s.tensor('int64', new BigInt64Array([-100n]), [1]) });
    const de = out['de']!.data as Float64Array;
    for (let j = 0; j < table.length; j++) table[j]! -= 0.5 * de[j]!;
  }
  await s.release();
  let worst = -1;
  const row = (i: number) => table.subarray(i * d, (i + 1) * d);
  const norm = (v: Float64Array) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
  for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) {
    const cos = row(i).reduce((a, v, c) => a + v * row(j)[c]!, 0) / (norm(row(i)) * norm(row(j)));
    worst = Math.max(worst, cos);
  }
  return worst;
}

test('minmax: descent on the class table alone spreads every pair of classes apart (K = 4..12)', async (t) => {
  for (const k of [4, 6, 8, 12]) {
    for (const seed of [1, 2]) {
      const worst = await descendClassTable('minmax', k, 8, seed, 400);
      t.diagnostic(`K=${k} seed ${seed}: largest pairwise cosine ${worst.toFixed(3)}`);
      assert.ok(worst < 0.5, `K=${k}, seed ${seed}: two classes stay close (cosine ${worst})`);
    }
  }
});

test('minmax: the merged configuration scores worse than the regular simplex (it did not before)', async () => {
  const score = async (table: number[]) => (await runLossProbe('minmax', { logits: [[1, 0, 0]], labels: [-100], embeddings: chunk(table, 3) })).loss;
  const merged = await score([1, 0, 0, 1, 0, 0, -1, 0, 0, -1, 0, 0]);
  const simplex = await score([1, 1, 1, 1, -1, -1, -1, 1, -1, -1, -1, 1]);
  assert.ok(simplex < merged - 1, `simplex ${simplex} vs merged ${merged}`);
});

function chunk(v: number[], n: number): number[][] {
  return Array.from({ length: v.length / n }, (_, i) => v.slice(i * n, (i + 1) * n));
}

test('focal: range of gamma, and it trains harder samples more than ce does', async () => {
  assert.throws(() => parseLossSpec('focal(gamma=-1)'), /'gamma' of 'focal' is -1; it must be >= 0/);
  // An easy sample (p_y ~ 0.98) and a hard one: focal's gradient on the easy one is far smaller relative to ce's.
  const x = { logits: [[5, 1, 0], [0, 1, 0.5]], labels: [0, 0] };
  const [f, c] = [await runLossProbe('focal(gamma=2)', x), await runLossProbe('ce', x)];
  const ratio = (i: number) => Math.abs(f.grad[i]![0]! / c.grad[i]![0]!);
  assert.ok(ratio(0) < 0.01 && ratio(1) > 0.3, `easy ${ratio(0)}, hard ${ratio(1)}`);
});

test('the WebGPU forms (int32 labels, x - logsumexp(x), pairwise gradient sums) give the CPU forms\' loss and gradient', async () => {
  const r = new Rng(17);
  const B = 5;
  const K = 6;
  const z = Float64Array.from({ length: B * K }, () => 3 * r.normal());
  const y = [0, 5, 2, -100, 3];
  const results: { loss: number; grad: Float64Array }[] = [];
  for (const target of ['cpu', 'webgpu'] as const) {
    const g = new Graph('forms', target);
    const logits = g.input('z', 'float64', [B, K]);
    const labels = g.input('y', target === 'webgpu' ? 'int32' : 'int64', [B]);
    const { loss } = buildLoss('ce + 0.5*gaussian_kl(sigma=1) + sparse_lsr + 0.3*hierarchical + focal + label_smoothing', { g, logits, labels, classes: K, hierarchy: { coarse: [0, 0, 1, 1, 2, 2] } }, { bake: true });
    g.output(loss, 'loss');
    g.output(grad(g, loss, [logits])[0]!, 'grad');
    const s = await Session.create(g.toBytes());
    const out = await s.run({
      z: s.tensor('float64', z, [B, K]),
      y: target === 'webgpu' ? s.tensor('int32', Int32Array.from(y), [B]) : s.tensor('int64', BigInt64Array.from(y, BigInt), [B]),
    });
    results.push({ loss: (out['loss']!.data as Float64Array)[0]!, grad: out['grad']!.data as Float64Array });
    await s.release();
  }
  const [cpu, gpu] = results as [typeof results[0], typeof results[0]];
  assert.ok(near(gpu.loss, cpu.loss, 1e-12), `${gpu.loss} vs ${cpu.loss}`);
  cpu.grad.forEach((v, i) => assert.ok(Math.abs(gpu.grad[i]! - v) < 1e-12, `grad[${i}]: ${gpu.grad[i]} vs ${v}`));
});

test('sparse_lsr (derived) is dense label smoothing with the non-target sum at equal non-target probabilities: never above it, equal when they are equal (docs/losses.md, issue 26 item 8)', async () => {
  const r = new Rng(26);
  for (let trial = 0; trial < 5; trial++) {
    const x = { logits: Array.from({ length: 3 }, () => Array.from({ length: 4 }, () => 3 * r.normal())), labels: [0, 2, 3] };
    const [sparse, dense] = [await runLossProbe('sparse_lsr(eps=0.2)', x), await runLossProbe('label_smoothing(eps=0.2)', x)];
    assert.ok(sparse.loss <= dense.loss + 1e-12, `${sparse.loss} > ${dense.loss}`);
    assert.ok(dense.loss - sparse.loss > 1e-4, 'unequal non-target probabilities: strictly below');
    // Equal non-target logits: the same value and the same gradient everywhere.
    const flat = { logits: x.logits.map((z, i) => z.map((v, k) => (k === x.labels[i] ? v : z[(x.labels[i]! + 1) % 4]!))), labels: x.labels };
    const [s2, d2] = [await runLossProbe('sparse_lsr(eps=0.2)', flat), await runLossProbe('label_smoothing(eps=0.2)', flat)];
    assert.ok(Math.abs(s2.loss - d2.loss) < 1e-12, `${s2.loss} vs ${d2.loss}`);
    s2.grad.forEach((row, i) => row.forEach((v, k) => assert.ok(Math.abs(v - d2.grad[i]![k]!) < 1e-12)));
  }
  // The summary no longer claims a mere sign change.
  assert.doesNotMatch(lossDefinition('sparse_lsr').summary, /sign corrected/);
});
