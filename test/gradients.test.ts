// Every gradient rule against float64 central finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registeredOps } from '../src/autograd/registry.ts';
import { Graph, attr, type Target, type Value } from '../src/graph/graph.ts';
import { grad } from '../src/autograd/grad.ts';
import { lowerForFloat64 } from '../src/graph/lower.ts';
import { Rng } from '../src/models/random.ts';
import { gradcheck, type CheckInput } from './helpers/gradcheck.ts';

const TOLERANCE = 1e-6;

interface Case {
  /** The op whose rule this case exercises. */
  op: string;
  what: string;
  inputs: CheckInput[];
  build: (g: Graph, v: Value[]) => Value;
  /** Finite-difference step, when the default's rounding noise is too large for the op. */
  h?: number;
  /** The target whose forms the case checks (the CPU's when absent). */
  target?: Target;
}

const f = (name: string, ...shape: number[]): CheckInput => ({ name, shape });
/** Values bounded away from 0, where Relu, Abs, Log and friends have kinks or poles. */
const awayFromZero = (name: string, shape: number[], seed: number, positive = false): CheckInput => {
  const r = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, shape, data: Array.from({ length: n }, () => (positive || r.next() < 0.5 ? 1 : -1) * r.uniform(0.2, 2)) };
};
const ints = (name: string, shape: number[], data: number[]): CheckInput => ({ name, shape, data, dtype: 'int64' });

const cases: Case[] = [
  { op: 'Identity', what: 'pass-through', inputs: [f('x', 2, 3)], build: (g, [x]) => g.identity(x!) },
  { op: 'Add', what: 'with broadcasting', inputs: [f('a', 2, 3), f('b', 3)], build: (g, [a, b]) => g.add(a!, b!) },
  { op: 'Sub', what: 'with broadcasting', inputs: [f('a', 2, 1), f('b', 2, 3)], build: (g, [a, b]) => g.sub(a!, b!) },
  { op: 'Mul', what: 'with broadcasting', inputs: [f('a', 2, 3, 4), f('b', 3, 1)], build: (g, [a, b]) => g.mul(a!, b!) },
  { op: 'Div', what: 'with broadcasting', inputs: [f('a', 2, 3), awayFromZero('b', [2, 1], 3)], build: (g, [a, b]) => g.div(a!, b!) },
  { op: 'Neg', what: 'negation', inputs: [f('x', 4)], build: (g, [x]) => g.neg(x!) },
  { op: 'Sum', what: 'three inputs, one broadcast', inputs: [f('a', 2, 3), f('b', 2, 3), f('c', 1, 3)], build: (g, [a, b, c]) => g.sum([a!, b!, c!]) },
  { op: 'Pow', what: 'base and exponent', inputs: [awayFromZero('a', [2, 3], 4, true), f('b', 2, 3)], build: (g, [a, b]) => g.pow(a!, b!) },
  { op: 'Exp', what: 'exp', inputs: [f('x', 2, 3)], build: (g, [x]) => g.exp(x!) },
  { op: 'Log', what: 'on positives', inputs: [awayFromZero('x', [2, 3], 5, true)], build: (g, [x]) => g.log(x!) },
  { op: 'Reciprocal', what: 'away from 0', inputs: [awayFromZero('x', [5], 6)], build: (g, [x]) => g.reciprocal(x!) },
  { op: 'Sqrt', what: 'on positives', inputs: [awayFromZero('x', [2, 3], 7, true)], build: (g, [x]) => g.sqrt(x!) },
  { op: 'Abs', what: 'away from 0', inputs: [awayFromZero('x', [2, 3], 8)], build: (g, [x]) => g.abs(x!) },
  { op: 'Relu', what: 'away from 0', inputs: [awayFromZero('x', [3, 4], 9)], build: (g, [x]) => g.relu(x!) },
  { op: 'Sigmoid', what: 'sigmoid', inputs: [f('x', 2, 3)], build: (g, [x]) => g.sigmoid(x!) },
  { op: 'Tanh', what: 'tanh', inputs: [f('x', 2, 3)], build: (g, [x]) => g.tanh(x!) },
  { op: 'Cast', what: 'float64 to float64', inputs: [f('x', 3)], build: (g, [x]) => g.cast(x!, 'float64') },
  { op: 'Max', what: 'two inputs, broadcast', inputs: [f('a', 2, 3), f('b', 3)], build: (g, [a, b]) => g.max(a!, b!) },
  { op: 'Min', what: 'two inputs, broadcast', inputs: [f('a', 2, 3), f('b', 3)], build: (g, [a, b]) => g.min(a!, b!) },
  { op: 'Where', what: 'both branches', inputs: [f('a', 2, 3), f('b', 2, 3), f('c', 2, 3)], build: (g, [a, b, c]) => g.where(g.greater(c!, 0), a!, b!) },
  { op: 'Clip', what: 'constant bounds', inputs: [awayFromZero('x', [3, 4], 10)], build: (g, [x]) => g.clip(x!, -1, 1) },
  { op: 'Clip', what: 'bounds as inputs', inputs: [f('x', 6), { name: 'lo', shape: [], data: [-0.5] }, { name: 'hi', shape: [], data: [0.7] }], build: (g, [x, lo, hi]) => g.clip(x!, lo!, hi!) },
  { op: 'MatMul', what: 'batched, broadcast', inputs: [f('a', 2, 3, 4), f('b', 4, 5)], build: (g, [a, b]) => g.matMul(a!, b!) },
  ...[false, true].flatMap((tA) => [false, true].map((tB): Case => ({
    op: 'Gemm',
    what: `transA=${tA} transB=${tB}, alpha, beta, broadcast C`,
    inputs: [f('a', ...(tA ? [4, 3] : [3, 4])), f('b', ...(tB ? [5, 4] : [4, 5])), f('c', 5)],
    build: (g, [a, b, c]) => g.gemm(a!, b!, c!, { alpha: 0.7, beta: 1.3, transA: tA, transB: tB }),
  }))),
  { op: 'ReduceSum', what: 'axes, keepdims=0', inputs: [f('x', 2, 3, 4)], build: (g, [x]) => g.reduceSum(x!, [0, 2], false) },
  { op: 'ReduceSum', what: 'all axes', inputs: [f('x', 2, 3)], build: (g, [x]) => g.reduceSum(x!) },
  { op: 'ReduceMean', what: 'axis 1, keepdims', inputs: [f('x', 2, 3, 4)], build: (g, [x]) => g.reduceMean(x!, [1], true) },
  { op: 'ReduceMean', what: 'over a symbolic batch axis', inputs: [{ ...f('x', 4, 3), declared: ['batch', 3] }], build: (g, [x]) => g.reduceMean(x!, [0], false) },
  { op: 'ReduceMean', what: 'WebGPU form: a symbolic batch counted in float', inputs: [{ ...f('x', 4, 3, 2), declared: ['batch', 3, 2] }], target: 'webgpu', build: (g, [x]) => g.reduceMean(x!, [0, 2], true) },
  { op: 'ReduceMax', what: 'axis -1', inputs: [f('x', 3, 5)], build: (g, [x]) => g.reduceMax(x!, [-1], false) },
  { op: 'ReduceLogSumExp', what: 'axis 1', inputs: [f('x', 3, 5)], build: (g, [x]) => g.reduceLogSumExp(x!, [1], false) },
  { op: 'Softmax', what: 'axis 1', inputs: [f('x', 3, 5)], build: (g, [x]) => g.softmax(x!, 1) },
  { op: 'Softmax', what: 'axis 0 of 3-D', inputs: [f('x', 3, 2, 2)], build: (g, [x]) => g.softmax(x!, 0) },
  { op: 'LogSoftmax', what: 'axis -1', inputs: [f('x', 3, 5)], build: (g, [x]) => g.logSoftmax(x!, -1) },
  { op: 'Reshape', what: 'with -1', inputs: [f('x', 2, 3, 4)], build: (g, [x]) => g.reshape(x!, [4, -1]) },
  { op: 'Flatten', what: 'axis 2', inputs: [f('x', 2, 3, 4)], build: (g, [x]) => g.flatten(x!, 2) },
  { op: 'Squeeze', what: 'axis 1', inputs: [f('x', 3, 1, 2)], build: (g, [x]) => g.squeeze(x!, [1]) },
  { op: 'Unsqueeze', what: 'axes 0 and 2', inputs: [f('x', 3, 2)], build: (g, [x]) => g.unsqueeze(x!, [0, 2]) },
  { op: 'Transpose', what: 'perm [2,0,1]', inputs: [f('x', 2, 3, 4)], build: (g, [x]) => g.transpose(x!, [2, 0, 1]) },
  { op: 'Expand', what: 'to a larger shape', inputs: [f('x', 3, 1)], build: (g, [x]) => g.expand(x!, [2, 3, 4]) },
  { op: 'Concat', what: 'axis 1', inputs: [f('a', 2, 3), f('b', 2, 1)], build: (g, [a, b]) => g.concat([a!, b!], 1) },
  { op: 'Slice', what: 'unit steps on two axes', inputs: [f('x', 4, 5)], build: (g, [x]) => g.slice(x!, [1, 0], [3, -1]) },
  { op: 'Slice', what: 'step 2 and step -1', inputs: [f('x', 5, 4)], build: (g, [x]) => g.slice(x!, [0, -1], [5, -5], [0, 1], [2, -1]) },
  { op: 'Pad', what: 'constant padding', inputs: [f('x', 2, 3)], build: (g, [x]) => g.pad(x!, [1, 0, 0, 2], 0.5) },
  { op: 'Gather', what: 'axis 1, 1-D indices with repeats', inputs: [f('x', 3, 4), ints('i', [5], [0, 3, 3, 1, -1])], build: (g, [x, i]) => g.gather(x!, i!, 1) },
  { op: 'Gather', what: 'axis 0, scalar index', inputs: [f('x', 3, 4), ints('i', [], [2])], build: (g, [x, i]) => g.gather(x!, i!, 0) },
  { op: 'Gather', what: 'axis 0, 2-D indices', inputs: [f('x', 4, 3), ints('i', [2, 2], [0, 1, 3, 0])], build: (g, [x, i]) => g.gather(x!, i!, 0) },
  { op: 'Gather', what: 'constant permutation (adjoint by Gather)', inputs: [f('x', 3, 4)], build: (g, [x]) => g.gather(x!, g.constant('int64', [4], [2, 0, 3, 1]), 1) },
  { op: 'Gather', what: 'constant selection with gaps and a negative index (adjoint by Gather, zero column)', inputs: [f('x', 5, 3)], build: (g, [x]) => g.gather(x!, g.constant('int64', [3], [4, -5, 2]), 0) },
  { op: 'Gather', what: 'constant indices with repeats (adjoint by scatter)', inputs: [f('x', 3, 4)], build: (g, [x]) => g.gather(x!, g.constant('int64', [3], [1, 1, 3]), 1) },
  { op: 'GatherElements', what: 'axis 1', inputs: [f('x', 3, 4), ints('i', [3, 2], [0, 3, 1, 1, 2, 0])], build: (g, [x, i]) => g.gatherElements(x!, i!, 1) },
  { op: 'ScatterElements', what: 'reduction none', inputs: [f('x', 3, 4), ints('i', [3, 1], [1, 3, 0]), f('u', 3, 1)], build: (g, [x, i, u]) => g.scatterElements(x!, i!, u!, 1) },
  { op: 'ScatterElements', what: 'reduction add', inputs: [f('x', 3, 4), ints('i', [3, 2], [1, 1, 3, 0, 0, 2]), f('u', 3, 2)], build: (g, [x, i, u]) => g.scatterElements(x!, i!, u!, 1, 'add') },
  { op: 'Conv', what: 'stride 2, padding 1, bias', inputs: [f('x', 2, 3, 7, 7), f('w', 4, 3, 3, 3), f('b', 4)], build: (g, [x, w, b]) => g.conv(x!, w!, b!, { strides: [2, 2], pads: [1, 1, 1, 1] }) },
  { op: 'Conv', what: 'dilation 2, asymmetric padding, stride (1,2)', inputs: [f('x', 1, 2, 8, 7), f('w', 3, 2, 2, 3)], build: (g, [x, w]) => g.conv(x!, w!, undefined, { strides: [1, 2], pads: [0, 2, 1, 0], dilations: [2, 2] }) },
  { op: 'Conv', what: '1-D, stride 3 leaving a remainder', inputs: [f('x', 2, 2, 11), f('w', 2, 2, 4)], build: (g, [x, w]) => g.conv(x!, w!, undefined, { strides: [3], pads: [2, 0] }) },
  { op: 'ConvTranspose', what: 'stride 2, padding, output padding, bias', inputs: [f('x', 2, 3, 4, 4), f('w', 3, 2, 3, 3), f('b', 2)], build: (g, [x, w, b]) => g.convTranspose(x!, w!, b!, { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] }) },
  { op: 'MaxPool', what: 'overlapping 3x3 windows, stride 2, padding', inputs: [f('x', 2, 2, 7, 7)], build: (g, [x]) => g.maxPool(x!, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) },
  { op: 'MaxPool', what: '2x2 stride 2, dilation 2', inputs: [f('x', 1, 2, 6, 6)], build: (g, [x]) => g.maxPool(x!, { kernelShape: [2, 2], strides: [2, 2], dilations: [2, 2] }) },
  { op: 'MaxPool', what: '2x2 stride 2 with a row and column left over (MaxUnpool)', inputs: [f('x', 2, 2, 7, 7)], build: (g, [x]) => g.maxPoolWithIndices(x!, { kernelShape: [2, 2], strides: [2, 2] })[0] },
  { op: 'MaxPool', what: '3x3 stride 3, padding 1, indices recomputed (MaxUnpool)', inputs: [f('x', 1, 2, 7, 8)], build: (g, [x]) => g.maxPool(x!, { kernelShape: [3, 3], strides: [3, 3], pads: [1, 1, 1, 1] }) },
  { op: 'MaxPool', what: 'columns only, [1, 2] stride [1, 2], a column left over', inputs: [f('x', 2, 2, 3, 7)], build: (g, [x]) => g.maxPool(x!, { kernelShape: [1, 2], strides: [1, 2] }) },
  { op: 'MaxPool', what: 'rows only, [3, 1] stride [3, 1], a row left over', inputs: [f('x', 2, 2, 7, 3)], build: (g, [x]) => g.maxPool(x!, { kernelShape: [3, 1], strides: [3, 1] }) },
  { op: 'MaxPool', what: 'columns [1, 3] then rows [2, 1], as CPU training graphs pool', inputs: [f('x', 1, 3, 5, 7)], build: (g, [x]) => g.maxPool(g.maxPool(x!, { kernelShape: [1, 3], strides: [1, 3] }), { kernelShape: [2, 1], strides: [2, 1] }) },
  { op: 'MaxPool', what: 'WebGPU form (window slots, no indices), 2x2 stride 2, a row and column left over', inputs: [f('x', 2, 2, 7, 7)], target: 'webgpu', build: (g, [x]) => g.maxPool(x!, { kernelShape: [2, 2], strides: [2, 2] }) },
  { op: 'MaxPool', what: 'WebGPU form, 3x3 stride 3', inputs: [f('x', 1, 2, 6, 6)], target: 'webgpu', build: (g, [x]) => g.maxPool(x!, { kernelShape: [3, 3], strides: [3, 3] }) },
  { op: 'BatchNormalization', what: 'given statistics (inference mode), every input', inputs: [f('x', 3, 4, 2, 2), f('s', 4), f('b', 4), f('m', 4), awayFromZero('v', [4], 21, true)], build: (g, [x, s, b, m, v]) => g.batchNormalization(x!, s!, b!, m!, v!, 1e-3) },
  { op: 'BatchNormalization', what: 'training mode, batch statistics from the node (momentum 0)', inputs: [f('x', 4, 3, 2, 3), f('s', 3), f('b', 3)], build: (g, [x, s, b]) => g.batchNormalizationTraining(x!, s!, b!, 1e-3).y, h: 1e-4 },
  { op: 'BatchNormalization', what: 'training mode on [N, C, L], momentum 0.3, through the running statistics too', inputs: [f('x', 5, 2, 3), f('s', 2), f('b', 2), f('m', 2), awayFromZero('v', [2], 22, true)], build: (g, [x, s, b, m, v]) => {
    // ONNX Runtime may update the input statistics in place: give the node computed copies, not the fed buffers.
    const [y, rm, rv] = g.emit('BatchNormalization', [x!, s!, b!, g.neg(g.neg(m!)), g.neg(g.neg(v!))], { epsilon: attr.float(1e-2), momentum: attr.float(0.3), training_mode: attr.int(1) }, [{ dtype: 'float64', shape: [5, 2, 3] }, { dtype: 'float64', shape: [2] }, { dtype: 'float64', shape: [2] }]);
    return g.concat([g.reshape(y!, [-1]), rm!, rv!], 0);
  } },
  { op: 'AveragePool', what: 'overlapping, padding not counted', inputs: [f('x', 2, 2, 6, 6)], build: (g, [x]) => g.averagePool(x!, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) },
  { op: 'AveragePool', what: 'padding counted', inputs: [f('x', 1, 3, 5, 5)], build: (g, [x]) => g.averagePool(x!, { kernelShape: [2, 2], strides: [1, 1], pads: [1, 0, 0, 1], countIncludePad: true }) },
  { op: 'GlobalAveragePool', what: 'global average', inputs: [f('x', 2, 3, 4, 5)], build: (g, [x]) => g.globalAveragePool(x!) },
  { op: 'Add', what: 'a bias over 300 columns (the batch sum is a ones row times the gradient)', inputs: [f('a', 3, 300), f('b', 300)], build: (g, [a, b]) => g.add(a!, b!) },
  { op: 'Add', what: 'a [2, 150] bias over a symbolic batch (ones row from the gradient itself)', inputs: [{ ...f('a', 4, 2, 150), declared: ['batch', 2, 150] }, f('b', 2, 150)], build: (g, [a, b]) => g.reduceSum(g.mul(g.add(a!, b!), a!), [0], false), h: 1e-4 },
  { op: 'Conv', what: 'a 288-column weight gradient summed over the batch by a ones row', inputs: [f('x', 3, 4, 5, 5), f('w', 8, 4, 3, 3)], build: (g, [x, w]) => g.conv(x!, w!, undefined, { pads: [1, 1, 1, 1] }) },
  // Linear in each input, so a wider step costs no truncation error and keeps rounding in f(x +- h) below the tolerance.
  { op: 'Conv', what: 'more output channels than positions (one GEMM over batch and positions)', inputs: [f('x', 3, 3, 4, 4), f('w', 7, 3, 3, 3)], build: (g, [x, w]) => g.conv(x!, w!), h: 1e-4 },
  { op: 'Conv', what: 'groups 2, stride 2, padding 1, bias', inputs: [f('x', 2, 4, 7, 7), f('w', 6, 2, 3, 3), f('b', 6)], build: (g, [x, w, b]) => g.conv(x!, w!, b!, { strides: [2, 2], pads: [1, 1, 1, 1], group: 2 }), h: 1e-4 },
  { op: 'Conv', what: 'depthwise (groups = channels), dilation 2, asymmetric padding', inputs: [f('x', 2, 3, 8, 7), f('w', 3, 1, 3, 3)], build: (g, [x, w]) => g.conv(x!, w!, undefined, { pads: [1, 2, 2, 1], dilations: [2, 1], group: 3 }), h: 1e-4 },
  { op: 'Conv', what: 'depthwise with a channel multiplier of 2, stride 2', inputs: [f('x', 2, 2, 6, 6), f('w', 4, 1, 3, 3)], build: (g, [x, w]) => g.conv(x!, w!, undefined, { strides: [2, 2], pads: [1, 1, 1, 1], group: 2 }), h: 1e-4 },
];

for (const [k, c] of cases.entries()) {
  test(`gradient of ${c.op}: ${c.what}`, async () => {
    const r = await gradcheck(c.build, c.inputs, { seed: 100 + k, h: c.h, ...(c.target ? { target: c.target } : {}) });
    assert.ok(r.checked > 0, 'no element was checked');
    assert.ok(r.maxRelError < TOLERANCE, `max relative error ${r.maxRelError.toExponential(2)} at ${r.worst}`);
  });
}

test('every registered gradient rule has a finite-difference case', () => {
  const covered = new Set(cases.map((c) => c.op));
  const missing = registeredOps().filter((op) => !covered.has(op));
  assert.deepEqual(missing, []);
});

test('a chain through fan-out sums gradients once per value', async () => {
  // x is used three times: y = sum(x * exp(x) + tanh(x) / (1 + x^2)).
  const r = await gradcheck(
    (g, [x]) => g.add(g.mul(x!, g.exp(x!)), g.div(g.tanh(x!), g.add(g.mul(x!, x!), 1))),
    [f('x', 3, 4)],
  );
  assert.ok(r.maxRelError < TOLERANCE, `max relative error ${r.maxRelError} at ${r.worst}`);
});

test('an MLP with a cross-entropy loss end to end', async () => {
  const labels = [0, 2, 1, 2];
  const r = await gradcheck(
    (g, [x, w1, b1, w2, y]) => {
      const h = g.relu(g.gemm(x!, w1!, b1!));
      const logp = g.logSoftmax(g.matMul(h, w2!), 1);
      return g.neg(g.reduceMean(g.gatherElements(logp, g.unsqueeze(y!, [1]), 1)));
    },
    [f('x', 4, 5), f('w1', 5, 6), f('b1', 6), f('w2', 6, 3), ints('y', [4], labels)],
  );
  assert.ok(r.maxRelError < TOLERANCE, `max relative error ${r.maxRelError} at ${r.worst}`);
});

test('MaxPool\'s WebGPU and two-pass CPU gradients route ties to the first maximum in each window, as the indices do', async () => {
  const { Session } = await import('../src/runtime/session.ts');
  // Plateaus and repeated maxima everywhere: the case an x == upsampled(y) mask gets wrong.
  const data = Float64Array.from({ length: 2 * 6 * 6 }, (_, i) => [0, 1, 1, 0, 2, 2][i % 6]! + (Math.floor(i / 12) % 2));
  const dyData = Float64Array.from({ length: 2 * 3 * 3 }, (_, i) => i + 1);
  const grads: Float64Array[] = [];
  for (const form of ['indices', 'webgpu', 'columns then rows'] as const) {
    const g = new Graph('ties', form === 'webgpu' ? 'webgpu' : 'cpu');
    const x = g.input('x', 'float64', [1, 2, 6, 6]);
    const y = form === 'indices' ? g.maxPoolWithIndices(x, { kernelShape: [2, 2], strides: [2, 2] })[0]
      : form === 'webgpu' ? g.maxPool(x, { kernelShape: [2, 2], strides: [2, 2] })
        : g.maxPool(g.maxPool(x, { kernelShape: [1, 2], strides: [1, 2] }), { kernelShape: [2, 1], strides: [2, 1] });
    const seed = g.input('dy', 'float64', [1, 2, 3, 3]);
    g.output(grad(g, y, [x], { seed })[0]!, 'dx');
    lowerForFloat64(g);
    const s = await Session.create(g.toBytes());
    const out = await s.run({ x: s.tensor('float64', data, [1, 2, 6, 6]), dy: s.tensor('float64', dyData, [1, 2, 3, 3]) });
    grads.push(out['dx']!.data as Float64Array);
    await s.release();
  }
  assert.deepEqual(Array.from(grads[1]!), Array.from(grads[0]!));
  assert.deepEqual(Array.from(grads[2]!), Array.from(grads[0]!));
  assert.equal(grads[0]!.filter((v) => v !== 0).length, 18, 'each window sends its gradient to exactly one element');
});
