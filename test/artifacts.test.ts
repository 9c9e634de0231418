// `lossgraph build` artifacts: they load and run in onnxruntime-node and -web,
// are byte-identical for the same seed, and refuse a foreign checkpoint.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FILES, buildArtifacts, type ArtifactSpec } from '../src/artifacts/build.ts';
import { bakeInference } from '../src/artifacts/contract.ts';
import { build } from '../src/artifacts/files.ts';
import { loadTrainingSession } from '../src/runtime/node.ts';
import { LossgraphError } from '../src/errors.ts';
import { Rng } from '../src/models/random.ts';
import { Session, type RuntimeName } from '../src/runtime/session.ts';
import { TrainingSession } from '../src/runtime/training.ts';
import { assertBackwardOps, assertStandardOnnx } from './helpers/standard.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'lossgraph-art-'));
const base: ArtifactSpec = { model: 'cnn:4,8', loss: 'ce', classes: 5, input: [1, 12, 12], optimizer: 'adamw', seed: 1 };

function randomBatch(seed: number, n: number, spec: ArtifactSpec, targets = false) {
  const r = new Rng(seed);
  const px = spec.input.reduce((a, b) => a * b, 1);
  return {
    images: Float32Array.from({ length: n * px }, () => r.next()),
    labels: BigInt64Array.from({ length: n }, () => BigInt(r.int(spec.classes))),
    targets: targets ? Float32Array.from({ length: n * spec.classes }, () => (r.next() < 0.3 ? 1 : 0)) : undefined,
  };
}

const variants: [string, Partial<ArtifactSpec>, boolean][] = [
  ['cnn + ce + adamw', {}, false],
  ['mlp + gaussian_kl + sgd momentum', { model: 'mlp:16', loss: 'ce + 0.5*gaussian_kl(sigma=2)', optimizer: 'sgd:momentum=0.9,nesterov=1' }, false],
  ['cnn + coral', { loss: 'coral' }, false],
  ['cnn with average pooling and a global-average-pool head', { model: 'cnn:4,8;pool=avg;head=gap;dropout=0.1' }, false],
  ['mlp + corn', { model: 'mlp:16', loss: 'corn' }, false],
  ['mlp + minmax', { model: 'mlp:16', loss: 'minmax', embeddingDim: 6 }, false],
  ['mlp + hierarchical', { model: 'mlp:16', loss: '0.7*ce + 0.3*hierarchical', hierarchy: { coarse: [0, 0, 1, 1, 2] } }, false],
  ['mlp + bce (targets)', { model: 'mlp:16', loss: 'bce' }, true],
];

for (const [what, over, targets] of variants) {
  test(`${what}: all three graphs run in onnxruntime-node and -web, default domain only`, async () => {
    const spec = { ...base, ...over };
    const built = buildArtifacts(spec);
    for (const f of [FILES.training, FILES.eval, FILES.inference]) assertStandardOnnx(built.files[f]!, f);
    assertBackwardOps(built.files[FILES.training]!, FILES.training);
    const batch = randomBatch(2, 6, spec, targets);
    for (const runtime of ['node', 'web'] as RuntimeName[]) {
      const session = await TrainingSession.fromBuilt(built, { runtime });
      const l1 = await session.runTrainStep(batch, 0.01);
      const l2 = await session.runTrainStep(batch, 0.01);
      assert.ok(Number.isFinite(l1) && Number.isFinite(l2), `${runtime}: losses ${l1}, ${l2}`);
      const ev = await session.runEvalStep(batch);
      assert.ok(Number.isFinite(ev.loss));
      const inference = await Session.create(bakeInference(built.files[FILES.inference]!, session.tensors()), { runtime });
      const out = await inference.run({ input: inference.tensor('float32', batch.images, [6, ...spec.input]) });
      const cls = Array.from(out['class']!.data as BigInt64Array, Number);
      assert.ok(cls.every((c) => c >= 0 && c < spec.classes), `${runtime}: classes ${cls}`);
      const probs = out['probabilities']?.data as Float32Array | undefined;
      if (probs && spec.loss === 'bce') {
        // Multi-label: independent per-class probabilities (sigmoid), not a distribution.
        assert.ok(Array.from(probs).every((p) => p >= 0 && p <= 1), `${runtime}: bce probabilities outside [0, 1]`);
      } else if (probs) {
        for (let i = 0; i < 6; i++) {
          const row = probs.subarray(i * spec.classes, (i + 1) * spec.classes);
          assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `${runtime}: probabilities of row ${i} sum to ${row.reduce((a, b) => a + b, 0)}`);
        }
      }
      if (built.manifest.ordinal) {
        const expected = out['expected_class']!.data as Float32Array;
        assert.ok(Array.from(expected).every((e) => e >= 0 && e <= spec.classes - 1));
      }
      await inference.release();
      await session.release();
    }
  });
}

test('building twice with the same seed gives identical bytes; another seed changes only the weights', () => {
  const a = buildArtifacts(base);
  const b = buildArtifacts(base);
  for (const f of Object.keys(a.files)) assert.ok(Buffer.from(a.files[f]!).equals(Buffer.from(b.files[f]!)), `${f} differs`);
  const c = buildArtifacts({ ...base, seed: 2 });
  assert.ok(Buffer.from(a.files[FILES.training]!).equals(Buffer.from(c.files[FILES.training]!)), 'the training graph does not depend on the seed');
  assert.ok(!Buffer.from(a.files[FILES.checkpoint]!).equals(Buffer.from(c.files[FILES.checkpoint]!)));
});

test('the manifest names every input, output and hyperparameter default', () => {
  const m = buildArtifacts({ ...base, loss: 'ce + alpha*gaussian_kl(sigma=2)', lossParams: { alpha: 0.4 } }).manifest;
  assert.deepEqual(m.hyperparameters, [
    { name: 'alpha', default: 0.4 },
    { name: 'gaussian_kl.sigma', default: 2, range: { min: 0, minExclusive: true }, schedule: 'sigma' },
  ]);
  const names = m.graphs.training.inputs.map((i) => i.name);
  for (const n of ['input', 'labels', 'lr', 'step', 'seed', 'alpha', 'gaussian_kl.sigma', 'conv0.weight', 'bn0.running_mean', 'opt.conv0.weight.m']) assert.ok(names.includes(n), n);
  const outs = m.graphs.training.outputs.map((o) => o.name);
  for (const c of m.carried) assert.ok(outs.includes(`${c.name}.updated`), `${c.name}.updated`);
  assert.deepEqual(m.graphs.inference.outputs.map((o) => o.name), ['probabilities', 'class', 'expected_class']);
  assert.deepEqual(m.graphs.inference.inputs.map((o) => o.name), ['input']);
  assert.equal(m.opset, 18);
});

test('a checkpoint built for another model fails with one clear line', async () => {
  const dirA = tmp();
  const dirB = tmp();
  build({ ...base, out: dirA });
  build({ ...base, model: 'mlp:32', out: dirB });
  await assert.rejects(loadTrainingSession(dirA, { checkpoint: join(dirB, FILES.checkpoint) }), (e: Error) => {
    assert.ok(e instanceof LossgraphError);
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, /checkpoint\.safetensors was saved for model 'mlp:32', loss 'ce', 5 classes, input 1x12x12, not for these artifacts \(model 'cnn:4,8', loss 'ce', 5 classes, input 1x12x12\): tensor 'conv0\.weight' is missing/);
    return true;
  });
  const corrupt = join(dirB, 'corrupt.safetensors');
  writeFileSync(corrupt, Buffer.from('not a checkpoint at all'));
  await assert.rejects(loadTrainingSession(dirA, { checkpoint: corrupt }), /corrupt\.safetensors: not a valid safetensors checkpoint/);
});

test('a saved checkpoint resumes to the same state', async () => {
  const dir = tmp();
  build({ ...base, out: dir });
  const batch = randomBatch(4, 8, base);
  const a = await loadTrainingSession(dir);
  for (let i = 0; i < 3; i++) await a.runTrainStep(batch, 0.01);
  writeFileSync(join(dir, 'after3.safetensors'), a.checkpoint());
  await a.runTrainStep(batch, 0.01);
  const b = await loadTrainingSession(dir, { checkpoint: join(dir, 'after3.safetensors') });
  assert.equal(b.step, 3);
  await b.runTrainStep(batch, 0.01);
  // Dropout masks depend on (seed, step), so the fourth step repeats exactly.
  a.tensors().forEach((t, i) => assert.deepEqual(b.tensors()[i]!.data, t.data, t.name));
  await a.release();
  await b.release();
});

test('dropout masks are reproducible from seed and step, and differ between steps', async () => {
  const spec = { ...base, model: 'mlp:64;dropout=0.5' };
  const built = buildArtifacts(spec);
  const batch = randomBatch(6, 4, spec);
  const losses = async () => {
    const s = await TrainingSession.fromBuilt(built);
    const out = [await s.runTrainStep(batch, 0), await s.runTrainStep(batch, 0)];
    await s.release();
    return out;
  };
  const [first, again] = [await losses(), await losses()];
  assert.deepEqual(first, again);
  assert.notEqual(first[0], first[1], 'with lr 0 only the mask changes between steps');
});

test('batch norm: training updates the running statistics, which the eval graph uses', async () => {
  const built = buildArtifacts(base);
  const s = await TrainingSession.fromBuilt(built);
  const batch = randomBatch(8, 8, base);
  const before = (await s.runEvalStep(batch)).loss;
  await s.runTrainStep(batch, 0);
  const mean = s.tensors().find((t) => t.name === 'bn0.running_mean')!.data;
  assert.ok(Array.from(mean).some((v) => v !== 0), 'running mean moved');
  const after = (await s.runEvalStep(batch)).loss;
  assert.notEqual(before, after, 'the eval loss changes with the running statistics alone (lr 0)');
  await s.release();
});

test('lossgraph build writes the artifact folder; bad arguments get one line and exit 2', () => {
  const bin = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));
  const out = join(tmp(), 'art');
  const ok = spawnSync(process.execPath, [bin, 'build', '--model', 'mlp:8', '--loss', '0.7*ce + 0.3*hierarchical', '--groups', '[0,0,1]', '--classes', '3', '--input', '1x4x4', '--optimizer', 'sgd', '--seed', '5', '--out', out, '--json'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(readdirSync(out).sort(), Object.values(FILES).sort());
  assert.equal(JSON.parse(readFileSync(join(out, FILES.manifest), 'utf8')).spec.seed, 5);
  const bad: [string[], RegExp][] = [
    [['--model', 'mlp:8', '--loss', 'ce', '--classes', '3', '--input', '4x4'], /--input 4x4: expected CxHxW/],
    [['--model', 'vgg', '--loss', 'ce', '--classes', '3', '--input', '1x4x4'], /model 'vgg' is not understood/],
    [['--model', 'mlp:8', '--loss', 'ce +', '--classes', '3', '--input', '1x4x4'], /unexpected end of spec at column 5/],
    [['--model', 'mlp:8', '--loss', 'ce', '--classes', '1', '--input', '1x4x4'], /--classes must be an integer >= 2/],
    [['--model', 'mlp:8', '--loss', 'ce', '--classes', '3', '--input', '1x4x4', '--optimizer', 'adam'], /optimizer 'adam' is not known/],
    [['--model', 'mlp:8', '--loss', 'hierarchical', '--classes', '3', '--input', '1x4x4'], /loss 'hierarchical' needs a class hierarchy/],
  ];
  for (const [args, message] of bad) {
    const r = spawnSync(process.execPath, [bin, 'build', ...args, '--out', join(tmp(), 'x')], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});

test('the same dropout masks on onnxruntime-node and -web: the CNN trajectories agree', async () => {
  const built = buildArtifacts({ ...base, model: 'cnn:4,8;dropout=0.5' });
  const batch = randomBatch(12, 8, base);
  const run = async (runtime: RuntimeName) => {
    const s = await TrainingSession.fromBuilt(built, { runtime });
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) losses.push(await s.runTrainStep(batch, 0.01));
    await s.release();
    return losses;
  };
  const [node, web] = [await run('node'), await run('web')];
  node.forEach((l, i) => assert.ok(Math.abs(l - web[i]!) < 1e-4 * Math.max(1, l), `step ${i}: node ${l} vs web ${web[i]}`));
});

test('a WebGPU-target manifest carries the session options its graphs need, and the runtime opens WebGPU sessions with exactly those (issue 26 item 10)', async () => {
  const { WEBGPU_SESSION_OPTIONS } = await import('../src/artifacts/contract.ts');
  const spec: ArtifactSpec = { model: 'cnn:4,8', loss: 'ce', classes: 3, input: [1, 8, 8], optimizer: 'adamw', seed: 0 };
  const gpu = buildArtifacts({ ...spec, target: 'webgpu' }).manifest;
  assert.deepEqual(gpu.session, { webgpu: { executionProviders: [{ name: 'webgpu', preferredLayout: 'NCHW' }], extra: { session: { disable_cpu_ep_fallback: '1' } } } });
  // JSON round trip: what a page reads from manifest.json is the same object.
  assert.deepEqual(JSON.parse(JSON.stringify(gpu)).session.webgpu, WEBGPU_SESSION_OPTIONS);
  assert.equal(buildArtifacts(spec).manifest.session, undefined, 'CPU-target graphs name no WebGPU options');
  // The runtime's own WebGPU sessions use the manifest's options (an ort stand-in records what it is given).
  let given: unknown;
  const ort = { env: { wasm: {} }, InferenceSession: { create: async (_m: unknown, o: unknown) => { given = o; return { inputNames: [], outputNames: [] }; } } };
  await Session.create(new Uint8Array(), { runtime: 'web', ort, providers: ['webgpu'] });
  const o = given as { executionProviders: unknown[]; extra: unknown };
  assert.deepEqual({ executionProviders: o.executionProviders, extra: o.extra }, WEBGPU_SESSION_OPTIONS);
});
