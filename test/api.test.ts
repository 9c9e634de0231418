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
