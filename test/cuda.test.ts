// The CUDA target. ONNX Runtime's CUDA provider refuses training-mode
// BatchNormalization at opset >= 14 and has no kernel for some integer
// reductions, so every graph lossgraph emits for --ep cuda is checked here,
// without a GPU, against the provider's kernel table (src/runtime/cuda_kernels.ts):
// every model family, every loss, training/eval/inference and the k-step graph.
// The CUDA forms themselves are checked for the same numbers as the CPU forms
// and, for batch norm's lowering, against float64 finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FILES, buildArtifacts, type ArtifactSpec } from '../src/artifacts/build.ts';
import { lowerForCuda } from '../src/graph/cuda_forms.ts';
import { cudaProblems } from '../src/runtime/cuda_kernels.ts';
import { ProviderError } from '../src/errors.ts';
import { knownLosses } from '../src/losses/registry.ts';
import type { ImportedModel } from '../src/models/onnx_import.ts';
import { decodeModel } from '../src/onnx/proto.ts';
import { multiStepTrainingModel } from '../src/runtime/multistep.ts';
import { TrainingSession, type TrainBatch } from '../src/runtime/training.ts';
import { gradcheck } from './helpers/gradcheck.ts';

const CLASSES = 4;
const MODELS = ['mlp:16;dropout=0.5', 'cnn:4,8', 'cnn:4;pool=avg;head=gap;dropout=0'];
/** One spec per loss, with the data it needs; the test below checks every registered loss is here. */
const LOSSES: Partial<ArtifactSpec>[] = [
  { loss: 'ce(ignore_index=-1)', classWeights: [1, 2, 1, 0.5] },
  { loss: 'label_smoothing(eps=0.1)' },
  { loss: 'sparse_lsr(eps=0.1)' },
  { loss: 'focal(gamma=2)' },
  { loss: '0.5*ce + 0.5*kl(T=2)', targets: true },
  { loss: 'ce + 0.5*gaussian_kl(sigma=2)', clipGradNorm: 1 },
  { loss: '0.7*ce + 0.3*hierarchical', hierarchy: { coarse: [0, 0, 1, 1] } },
  { loss: 'minmax', optimizer: 'sgd' },
  { loss: 'minmax(labels=multi)', targets: true },
  { loss: 'mse' },
  { loss: 'l1(input=raw)', targets: true },
  { loss: 'bce', targets: true },
  { loss: 'coral', importanceWeights: [1, 2, 1] },
  { loss: 'corn' },
];

function spec(model: string, loss: Partial<ArtifactSpec>, target: ArtifactSpec['target']): ArtifactSpec {
  return { model, loss: 'ce', classes: CLASSES, input: [1, 8, 8], optimizer: 'adamw', seed: 3, target, ...loss } as ArtifactSpec;
}

/** Every graph of one build, by file: the three graphs and the k-step training graph. */
function graphsOf(s: ArtifactSpec, imported?: ImportedModel): Record<string, Uint8Array> {
  const built = buildArtifacts(s, imported);
  const training = built.files[FILES.training]!;
  return {
    [FILES.training]: training,
    [FILES.eval]: built.files[FILES.eval]!,
    [FILES.inference]: built.files[FILES.inference]!,
    'k-step training graph': multiStepTrainingModel(training, built.manifest),
  };
}

test('the CUDA-safety check catches what the CUDA provider refuses: the CPU-target CNN training graph', () => {
  const problems = cudaProblems(decodeModel(buildArtifacts(spec('cnn:4,8', {}, 'cpu')).files[FILES.training]!));
  assert.ok(problems.some((p) => /BatchNormalization.*training_mode=1 at opset 18, which the CUDA kernel refuses/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /ReduceProd.*no CUDA kernel for int64/.test(p)), problems.join('\n'));
  // Ops with no CUDA kernel at all are named too.
  const g = buildArtifacts(spec('mlp:4', {}, 'cpu'));
  const model = decodeModel(g.files[FILES.inference]!);
  model.graph!.node![0]!.opType = 'MaxUnpool';
  assert.match(cudaProblems(model).join('\n'), /\(MaxUnpool\): no CUDA kernel/);
});

test('every graph built for the CUDA target runs on the CUDA provider: every model, every loss, every graph', () => {
  const covered = new Set(LOSSES.flatMap((l) => [...l.loss!.matchAll(/[a-z][a-z_0-9]*/g)].map((m) => m[0])));
  for (const name of knownLosses()) assert.ok(covered.has(name), `loss '${name}' is missing from this test's list`);
  let checked = 0;
  for (const model of MODELS) {
    for (const loss of LOSSES) {
      for (const [file, bytes] of Object.entries(graphsOf(spec(model, loss, 'cuda')))) {
        const problems = cudaProblems(decodeModel(bytes));
        assert.deepEqual(problems, [], `${model} with '${loss.loss}', ${file}:\n${problems.join('\n')}`);
        checked++;
      }
    }
  }
  assert.equal(checked, MODELS.length * LOSSES.length * 4);
});

test('the WebGPU-target graphs also run on the CUDA provider (the page graphs, trained on a GPU)', () => {
  for (const model of ['mlp:16;dropout=0.5', 'cnn:4,8;dropout=0']) {
    for (const loss of LOSSES) {
      const built = buildArtifacts(spec(model, loss, 'webgpu'));
      for (const file of [FILES.training, FILES.eval, FILES.inference]) {
        const problems = cudaProblems(decodeModel(built.files[file]!));
        assert.deepEqual(problems, [], `${model} with '${loss.loss}', ${file}:\n${problems.join('\n')}`);
      }
    }
  }
});

test('batch norm lowered for CUDA: the closed-form rule through the lowered forward matches float64 finite differences', async () => {
  // Training mode, with the running statistics as outputs too (the unbiased
  // variance uses the element count, whose CUDA form is a float product).
  const r = await gradcheck((g, [x, s, b]) => {
    const { y, mean, variance } = g.batchNormalizationTraining(x!, s!, b!, 1e-3);
    const stats = g.add(g.reduceSum(g.mul(mean, 0.3), undefined, false), g.reduceSum(g.mul(variance, 0.7), undefined, false));
    return g.add(g.reduceSum(g.mul(y, y), undefined, false), stats);
  }, [{ name: 'x', shape: [4, 3, 2, 3], declared: ['batch', 3, 2, 3] }, { name: 's', shape: [3] }, { name: 'b', shape: [3] }], { lower: lowerForCuda, h: 1e-4, target: 'cuda' });
  assert.ok(r.maxRelError < 1e-6, `max relative error ${r.maxRelError} at ${r.worst}`);
});

test('artifacts built for the CPU target are refused on CUDA in one line that says how to build them, before ONNX Runtime is asked', async () => {
  const built = buildArtifacts(spec('cnn:4,8', {}, 'cpu'));
  await assert.rejects(TrainingSession.fromBuilt(built, { ep: 'cuda' }), (e: Error) => {
    assert.ok(e instanceof ProviderError, String(e));
    assert.match(e.message, /^the CUDA provider refuses node BatchNormalization_0 \(BatchNormalization\): training_mode=1 .*built for the 'cpu' target: build them for CUDA \(lossgraph train --ep cuda does so by itself/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
});

/** Deterministic batches from a linear congruential generator. */
function batches(s: ArtifactSpec, count: number, size: number): TrainBatch[] {
  let x = 7;
  const next = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pixels = s.input.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => ({
    images: Float32Array.from({ length: size * pixels }, () => next() * 2 - 1),
    labels: BigInt64Array.from({ length: size }, () => BigInt(Math.floor(next() * s.classes))),
  }));
}

test('the CUDA-target training step makes the CPU target\'s updates (same losses and weights, run on the CPU provider)', async () => {
  // SGD: a conv bias before batch norm has a gradient of zero up to rounding, which AdamW would blow up to full steps.
  const base = { loss: 'ce + 0.5*gaussian_kl(sigma=1)', optimizer: 'sgd' };
  const data = batches(spec('cnn:4,8', base, 'cpu'), 6, 8);
  const run = async (target: ArtifactSpec['target']) => {
    const session = await TrainingSession.fromBuilt(buildArtifacts(spec('cnn:4,8', base, target)), {});
    const losses: number[] = [];
    for (const b of data) losses.push(await session.runTrainStep(b, 0.01));
    return { losses, tensors: session.tensors() };
  };
  const [cpu, cuda] = [await run('cpu'), await run('cuda')];
  cpu.losses.forEach((l, i) => assert.ok(Math.abs(l - cuda.losses[i]!) <= 1e-5 * Math.max(1, Math.abs(l)), `step ${i + 1}: ${l} vs ${cuda.losses[i]}`));
  cpu.tensors.forEach((t, i) => {
    const u = cuda.tensors[i]!;
    assert.equal(u.name, t.name);
    const worst = t.data.reduce((m, v, j) => Math.max(m, Math.abs(v - u.data[j]!) / Math.max(1, Math.abs(v))), 0);
    assert.ok(worst <= 1e-4, `'${t.name}' differs by ${worst}`);
  });
});

test('imported models built for the CUDA target run on the CUDA provider too (every fixture, training with batch statistics)', async () => {
  const { readImportedModel } = await import('../src/artifacts/model_file.ts');
  const { fileURLToPath } = await import('node:url');
  for (const arch of ['resnet18', 'mobilenet_v2', 'mobilenet_v3_small', 'efficientnet_b0', 'shufflenet_v2_x1_0', 'squeezenet1_1']) {
    const model = `onnx:${fileURLToPath(new URL(`./fixtures/imported/${arch}/model.onnx`, import.meta.url))};input=3x32x32;train=all`;
    for (const [file, bytes] of Object.entries(graphsOf({ ...spec(model, { loss: 'ce + 0.5*gaussian_kl(sigma=1)' }, 'cuda'), input: [1, 28, 28] }, readImportedModel(model)))) {
      const problems = cudaProblems(decodeModel(bytes));
      assert.deepEqual(problems, [], `${arch}, ${file}:\n${problems.join('\n')}`);
    }
  }
});
