// The README's TypeScript example, through the package entry point.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, grad } from '../src/index.ts';

test('the README example builds, differentiates and runs', async () => {
  const g = new Graph('example');
  const logits = g.input('logits', 'float32', ['batch', 10]);
  const labels = g.input('labels', 'int64', ['batch']);
  const logp = g.logSoftmax(logits, 1);
  const loss = g.neg(g.reduceMean(g.gatherElements(logp, g.unsqueeze(labels, [1]), 1)));
  const [dLogits] = grad(g, loss, [logits]);
  g.output(loss, 'loss');
  g.output(dLogits!, 'dlogits');
  const session = await Session.create(g.toBytes());
  const out = await session.run({
    logits: session.tensor('float32', new Float32Array(20), [2, 10]),
    labels: session.tensor('int64', new BigInt64Array([3n, 7n]), [2]),
  });
  assert.ok(Math.abs((out['loss']!.data as Float32Array)[0]! - Math.log(10)) < 1e-6);
  const d = out['dlogits']!.data as Float32Array;
  assert.ok(Math.abs(d[3]! - (0.1 - 1) / 2) < 1e-7 && Math.abs(d[0]! - 0.05) < 1e-7);
});

test('the public API imports an ONNX model from its bytes and builds artifacts on it', async () => {
  const { readFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const api = await import('../src/index.ts');
  const path = fileURLToPath(new URL('./fixtures/imported/squeezenet1_1/model.onnx', import.meta.url));
  const imported = api.importOnnxModel(readFileSync(path), api.parseOnnxModelSpec(`${path};input=3x32x32;train=head`));
  const built = api.buildArtifacts({ model: `onnx:${path};input=3x32x32;train=head`, loss: 'coral', classes: 5, input: [3, 32, 32], optimizer: 'adamw', seed: 0 }, imported);
  assert.deepEqual(built.manifest.carried.filter((c) => c.kind === 'parameter').map((c) => c.name), ['head.weight', 'head.thresholds']);
  const { decodeModel } = await import('../src/onnx/proto.ts');
  assert.deepEqual(api.cudaProblems(decodeModel(built.files[api.FILES.inference]!)), []);
  assert.ok(api.IMPORTABLE_OPS.includes('Conv'));
});

test('the API takes a feature vector [F] for an MLP, and its errors name fields, not command-line flags (issue 26 item 11)', async () => {
  const api = await import('../src/index.ts');
  const spec = { model: 'mlp:8', loss: 'ce', classes: 3, input: [4] as [number], optimizer: 'adamw', seed: 0 };
  const built = api.buildArtifacts(spec);
  const input = built.manifest.graphs.inference.inputs.find((i) => i.name === 'input')!;
  assert.deepEqual(input.shape, ['batch', 4]);
  // It trains: three examples of four features, the loss falls.
  const session = await api.TrainingSession.fromBuilt(built);
  const batch = { images: Float32Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]), labels: BigInt64Array.from([0n, 1n, 2n]) };
  const first = await session.runTrainStep(batch, 0.05);
  let last = first;
  for (let i = 0; i < 30; i++) last = await session.runTrainStep(batch, 0.05);
  assert.ok(last < first / 2, `${first} -> ${last}`);
  // What an API caller gets wrong is said in the API's words, with a FieldError naming the field.
  const refusals: [Record<string, unknown>, string, RegExp][] = [
    [{ input: [4, 4] }, 'input', /^input must be \[C, H, W\] .* or \[F\] .* got \[4,4\]$/],
    [{ model: 'cnn:4', input: [4] }, 'input', /^input \[4\] is a feature vector, which only mlp and linear models read; 'cnn:4' needs images \[C, H, W\]$/],
    [{ classes: 1 }, 'classes', /^classes must be an integer >= 2, got 1$/],
    [{ classWeights: [1, 2] }, 'classWeights', /^classWeights: 2 class weights for 3 classes$/],
    [{ clipGradNorm: -1 }, 'clipGradNorm', /^clipGradNorm must be a positive number, got -1$/],
  ];
  for (const [over, field, says] of refusals) {
    assert.throws(() => api.buildArtifacts({ ...spec, ...over } as never), (e: unknown) => {
      assert.ok(e instanceof api.FieldError, String(e));
      assert.equal(e.field, field);
      assert.match(e.message, says);
      assert.doesNotMatch(e.message, /--/);
      return true;
    });
  }
});
