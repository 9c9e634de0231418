// The builder: shape inference, deterministic bytes, clear errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grad } from '../src/autograd/grad.ts';
import { LossgraphError } from '../src/errors.ts';
import { Graph, IR_VERSION, OPSET } from '../src/graph/graph.ts';
import { FILES, buildArtifacts } from '../src/artifacts/build.ts';
import { decodeModel } from '../src/onnx/proto.ts';
import { Session } from '../src/runtime/session.ts';

test('shapes and dtypes are inferred, with a symbolic batch', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 1, 28, 28]);
  const c = g.conv(x, g.input('w', 'float32', [8, 1, 3, 3]), undefined, { strides: [2, 2], pads: [1, 1, 1, 1] });
  assert.deepEqual(c.shape, ['batch', 8, 14, 14]);
  const p = g.maxPool(c, { kernelShape: [3, 3], strides: [2, 2] });
  assert.deepEqual(p.shape, ['batch', 8, 6, 6]);
  const f = g.reshape(p, [0, -1]);
  assert.deepEqual(f.shape, ['batch', 288]);
  assert.deepEqual(g.reshape(p, [-1, 36]).shape, ['batch*8', 36]);
  const logits = g.matMul(f, g.input('w2', 'float32', [288, 10]));
  assert.deepEqual(logits.shape, ['batch', 10]);
  assert.deepEqual(g.reduceSum(logits, [1], false).shape, ['batch']);
  assert.equal(g.argMax(logits, 1).dtype, 'int64');
  assert.equal(g.less(logits, 0).dtype, 'bool');
  assert.deepEqual(g.add(g.input('a', 'float32', [3, 1]), g.input('b', 'float32', [4])).shape, [3, 4]);
  assert.deepEqual(g.slice(g.input('s', 'float32', [10, 6]), [1, -1], [8, 0], [0, 1], [3, -2]).shape, [3, 3]);
  assert.deepEqual(g.convTranspose(c, g.input('wt', 'float32', [8, 4, 3, 3]), undefined, { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] }).shape, ['batch', 4, 28, 28]);
  assert.deepEqual(g.reshape(x, g.shape(x)).shape, ['batch', 1, 28, 28]);
});

test('bad shapes and dtypes fail with a clear message', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2, 3]);
  assert.throws(() => g.add(a, g.input('b', 'float32', [4])), (e: Error) => e instanceof LossgraphError && /do not broadcast/.test(e.message));
  assert.throws(() => g.add(a, g.input('c', 'float64', [2, 3])), /dtypes differ/);
  assert.throws(() => g.matMul(a, g.input('d', 'float32', [4, 5])), /inner dimensions differ/);
  assert.throws(() => g.softmax(a, 2), /axis 2 is out of range/);
  assert.throws(() => g.input('a', 'float32', [1]), /already used/);
  assert.throws(() => g.conv(g.input('x', 'float32', [1, 3, 8, 8]), g.input('w', 'float32', [4, 2, 3, 3])), /3 channels/);
});

function mlpStepBytes(): Uint8Array {
  return buildArtifacts({ model: 'mlp:32', loss: 'ce', classes: 10, input: [1, 28, 28], optimizer: 'sgd', seed: 1 }).files[FILES.training]!;
}

test('the same graph serialises to identical bytes', () => {
  assert.deepEqual(mlpStepBytes(), mlpStepBytes());
});

test('models declare one opset and the matching IR version', () => {
  const m = decodeModel(mlpStepBytes());
  assert.equal(Number(m.irVersion), IR_VERSION);
  assert.deepEqual(m.opsetImport.map((o) => [o.domain, Number(o.version)]), [['', OPSET]]);
  assert.ok(OPSET >= 17);
});

test('differentiating through an op with no rule names the op and the node', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  const [y] = g.emit('Erf', [x], {}, [{ dtype: 'float32', shape: [3] }]);
  const loss = g.reduceSum(y!);
  assert.throws(() => grad(g, loss, [x]), (e: Error) => e instanceof LossgraphError && /no gradient rule for op Erf \(node 'Erf_0'\)/.test(e.message));
});

test('a value the loss does not depend on gets a zero gradient; integer paths carry none', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 3]);
  const unused = g.input('u', 'float32', [4]);
  // argmax is piecewise constant: the gradient flows only through the Gather's data input.
  const idx = g.argMax(x, 1, true);
  const loss = g.reduceSum(g.gatherElements(g.mul(x, x), idx, 1));
  const [dx, du] = grad(g, loss, [x, unused]);
  g.output(dx!, 'dx');
  g.output(du!, 'du');
  const s = await Session.create(g.toBytes());
  const out = await s.run({ x: s.tensor('float32', new Float32Array([1, 5, 2, -7, 0, 3]), [2, 3]), u: s.tensor('float32', new Float32Array(4), [4]) });
  assert.deepEqual(Array.from(out['dx']!.data as Float32Array, (v) => v + 0), [0, 10, 0, 0, 0, 6]); // +0 folds -0 (0 * -7)
  assert.deepEqual(Array.from(out['du']!.data as Float32Array), [0, 0, 0, 0]);
});

test('dead nodes are not emitted', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  g.exp(x);
  g.output(g.neg(x), 'y');
  const m = decodeModel(g.toBytes());
  assert.deepEqual((m.graph?.node ?? []).map((n) => n.opType), ['Neg']);
});

test('an output takes its name by renaming the node output, or through an Identity when it cannot', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  const y = g.neg(x);
  const twice = g.add(y, y);
  g.output(y, 'y');
  g.output(y, 'y_again');
  g.output(x, 'x_out');
  g.output(twice, 'sum');
  const m = decodeModel(g.toBytes());
  assert.deepEqual((m.graph?.node ?? []).map((n) => `${n.opType}(${n.input!.join(',')})->${n.output!.join(',')}`),
    ['Neg(x)->y', 'Add(y,y)->sum', 'Identity(y)->y_again', 'Identity(x)->x_out']);
  assert.deepEqual((m.graph?.output ?? []).map((o) => o.name), ['y', 'y_again', 'x_out', 'sum']);
  assert.throws(() => g.output(g.exp(x), 'y'), /already used/);
});

test('a gradient whose shape differs only in symbolic dim names is not reduced', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['n', 2]);
  // Reshape gives its output a fresh symbolic dim; the gradient flows back through it.
  const y = g.reshape(g.mul(x, x), [-1, 1]);
  const [dx] = grad(g, g.reduceSum(y), [x]);
  g.output(dx!, 'dx');
  const s = await Session.create(g.toBytes());
  const out = await s.run({ x: s.tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]) });
  assert.deepEqual(Array.from(out['dx']!.data as Float32Array), [2, 4, 6, 8, 10, 12]);
  assert.deepEqual(out['dx']!.dims, [3, 2]);
});
