// Several training steps per run: the k-step graph (the training graph as the
// body of an ONNX Loop) must make exactly the updates of k single steps, with
// every per-step output, on every runtime that runs it; where it cannot run,
// runTrainSteps takes single steps instead.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FILES, buildArtifacts, type ArtifactSpec } from '../src/artifacts/build.ts';
import { multiStepTrainingModel } from '../src/runtime/multistep.ts';
import { decodeModel } from '../src/onnx/proto.ts';
import type { RuntimeName } from '../src/runtime/session.ts';
import { TrainingSession, type StepResult, type TrainBatch } from '../src/runtime/training.ts';
import { assertStandardOnnx } from './helpers/standard.ts';

/** Deterministic pseudo-random batches (a linear congruential generator, so every run sees the same numbers). */
function batches(spec: ArtifactSpec, count: number, size: number, seed = 1): TrainBatch[] {
  let x = seed;
  const next = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pixels = spec.input.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => {
    const labels = BigInt64Array.from({ length: size }, () => BigInt(Math.floor(next() * spec.classes)));
    const targets = spec.targets ? Float32Array.from({ length: size * spec.classes }, () => (next() < 0.4 ? 1 : 0)) : undefined;
    return { images: Float32Array.from({ length: size * pixels }, () => next() * 2 - 1), labels, ...(targets ? { targets } : {}) };
  });
}

/** Runs `count` steps one run each, and the same steps as one k-step run; returns both sessions' results. */
async function bothWays(spec: ArtifactSpec, count: number, size: number, runtime: RuntimeName = 'node') {
  const built = buildArtifacts(spec);
  const data = batches(spec, count, size);
  const lrs = data.map((_, i) => 0.05 / (i + 1));
  const single = await TrainingSession.fromBuilt(built, { runtime });
  const one: StepResult[] = [];
  for (let i = 0; i < count; i++) {
    const loss = await single.runTrainStep(data[i]!, lrs[i]!);
    one.push({ loss, ...single.lastStep });
  }
  const multi = await TrainingSession.fromBuilt(built, { runtime });
  const many = await multi.runTrainSteps(data, lrs);
  return { single, multi, one, many };
}

function assertSameState(a: TrainingSession, b: TrainingSession, what: string): void {
  assert.equal(b.step, a.step, `${what}: step`);
  const [x, y] = [a.tensors(), b.tensors()];
  x.forEach((t, i) => {
    const u = y[i]!.data;
    const worst = t.data.reduce((m, v, j) => Math.max(m, Math.abs(v - u[j]!) / Math.max(1, Math.abs(v))), 0);
    // The body runs the same kernels on the same inputs: measured identical; 1e-6 leaves room for a thread split.
    assert.ok(worst <= 1e-6, `${what}: '${t.name}' differs by ${worst}`);
  });
}

function assertSameResults(one: StepResult[], many: StepResult[], what: string): void {
  assert.equal(many.length, one.length, `${what}: results`);
  one.forEach((r, i) => {
    const close = (p: number, q: number | undefined) => q !== undefined && Math.abs(p - q) <= 1e-6 * Math.max(1, Math.abs(p));
    assert.ok(close(r.loss, many[i]!.loss), `${what}: step ${i + 1} loss ${r.loss} vs ${many[i]!.loss}`);
    assert.deepEqual(Object.keys(many[i]!.terms), Object.keys(r.terms), `${what}: step ${i + 1} terms`);
    for (const [t, v] of Object.entries(r.terms)) assert.ok(close(v, many[i]!.terms[t]), `${what}: step ${i + 1} term ${t}`);
    assert.equal(many[i]!.gradNorm === undefined, r.gradNorm === undefined, `${what}: step ${i + 1} gradient norm present`);
    if (r.gradNorm !== undefined) assert.ok(close(r.gradNorm, many[i]!.gradNorm), `${what}: step ${i + 1} gradient norm`);
  });
}

test('k steps in one run equal k single steps: batch norm, dropout, AdamW, loss terms, a scheduled sigma, clipping', async () => {
  const spec: ArtifactSpec = {
    model: 'cnn:4,8;dropout=0.3', loss: 'ce + 0.5*gaussian_kl(sigma=2)', classes: 5, input: [1, 8, 8], optimizer: 'adamw', seed: 3, clipGradNorm: 0.5,
  };
  const { single, multi, one, many } = await bothWays(spec, 5, 6);
  assert.ok(multi.multiStep, 'CPU-target artifacts run the k-step graph');
  assertSameResults(one, many, 'cnn');
  assert.ok(many.every((r) => r.gradNorm !== undefined && Object.keys(r.terms).length === 2), 'every step reports its terms and gradient norm');
  assertSameState(single, multi, 'cnn');
  assert.deepEqual(multi.lastStep, { terms: many[4]!.terms, gradNorm: many[4]!.gradNorm }, 'lastStep is the last step of the run');
  // A changed hyperparameter reaches the next k-step run; afterwards both go on in step.
  for (const s of [single, multi]) s.setHyperparameter('gaussian_kl.sigma', 1.25);
  const next = batches(spec, 3, 6, 9);
  const a: StepResult[] = [];
  for (const b of next) a.push({ loss: await single.runTrainStep(b, 0.01), ...single.lastStep });
  assertSameResults(a, await multi.runTrainSteps(next, [0.01, 0.01, 0.01]), 'after setHyperparameter');
  assertSameState(single, multi, 'after setHyperparameter');
  await Promise.all([single.release(), multi.release()]);
});

test('k steps in one run with targets and SGD momentum, in onnxruntime-node and onnxruntime-web (wasm)', async () => {
  const spec: ArtifactSpec = { model: 'mlp:8', loss: 'bce', classes: 4, input: [1, 3, 3], optimizer: 'sgd:momentum=0.9,nesterov=1', seed: 5, targets: true };
  for (const runtime of ['node', 'web'] as const) {
    const { single, multi, one, many } = await bothWays(spec, 4, 7, runtime);
    assert.ok(multi.multiStep);
    assertSameResults(one, many, runtime);
    assertSameState(single, multi, runtime);
    await Promise.all([single.release(), multi.release()]);
  }
});

test('runTrainSteps takes single steps where the k-step graph cannot run: mixed batch sizes, artifacts for WebGPU', async () => {
  const spec: ArtifactSpec = { model: 'mlp:8', loss: 'ce', classes: 3, input: [1, 2, 2], optimizer: 'sgd', seed: 1 };
  const built = buildArtifacts(spec);
  const data = [...batches(spec, 2, 5), ...batches(spec, 1, 3, 7)];
  const single = await TrainingSession.fromBuilt(built);
  const one: StepResult[] = [];
  for (const b of data) one.push({ loss: await single.runTrainStep(b, 0.1), ...single.lastStep });
  const multi = await TrainingSession.fromBuilt(built);
  assertSameResults(one, await multi.runTrainSteps(data, [0.1, 0.1, 0.1]), 'mixed sizes');
  assertSameState(single, multi, 'mixed sizes');
  await assert.rejects(multi.runTrainSteps(data, [0.1]), /runTrainSteps: 3 batches but 1 learning rates/);
  const short = [data[0]!, { ...data[1]!, images: data[1]!.images.subarray(1) }];
  await assert.rejects(multi.runTrainSteps(short, [0.1, 0.1]), /runTrainSteps: batch 1 has 19 image values for 5 labels of 1x2x2 images/);
  assert.deepEqual(await multi.runTrainSteps([], []), []);

  const gpu = buildArtifacts({ ...spec, target: 'webgpu' });
  assert.throws(() => multiStepTrainingModel(gpu.files[FILES.training]!, gpu.manifest), /several steps per run need artifacts built for the CPU or CUDA target; these were built for 'webgpu'/);
  const s = await TrainingSession.fromBuilt(gpu);
  assert.equal(s.multiStep, false);
  const results = await s.runTrainSteps(batches(spec, 2, 4), [0.1, 0.1]);
  assert.equal(results.length, 2);
  assert.equal(s.step, 2);
  await Promise.all([single.release(), multi.release(), s.release()]);
});

test('the k-step graph is one standard-ONNX Loop whose body is the training step, names kept apart', () => {
  const built = buildArtifacts({ model: 'mlp:8', loss: 'ce', classes: 3, input: [1, 2, 2], optimizer: 'adamw', seed: 1 });
  const bytes = multiStepTrainingModel(built.files[FILES.training]!, built.manifest);
  assertStandardOnnx(bytes, 'k-step training graph');
  const g = decodeModel(bytes).graph!;
  assert.deepEqual(g.node!.map((n) => n.opType), ['Size', 'Loop']);
  const body = g.node![1]!.attribute!.find((a) => a.name === 'body')!.g!;
  const step = decodeModel(built.files[FILES.training]!).graph!;
  // The body holds the step's nodes plus the per-step slicing (input, labels, lr), the step number and the condition.
  assert.equal(body.node!.length, step.node!.length + 5);
  const outer = new Set([...g.input!.map((i) => i.name), ...g.node!.flatMap((n) => n.output!)]);
  const defined = [...body.input!.map((i) => i.name!), ...body.node!.flatMap((n) => n.output!), ...body.initializer!.map((t) => t.name!)];
  assert.deepEqual(defined.filter((n) => outer.has(n)), [], 'no body name shadows an outer one');
  const dims = (name: string) => g.input!.find((i) => i.name === name)!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
  assert.deepEqual(dims('input'), ['steps', 'batch', 1, 2, 2]);
  assert.deepEqual(dims('lr'), ['steps']);
  assert.deepEqual(dims('step'), []);
  assert.deepEqual(g.output!.filter((o) => o.name === 'loss').map((o) => o.type!.tensorType!.shape!.dim!.map((d) => d.dimParam)), [['steps']]);
});
