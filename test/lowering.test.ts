// The float64 rewrites of Conv, ConvTranspose, the average pools and MaxUnpool compute
// what ONNX Runtime's native float32 kernels compute.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, type Target, type Value } from '../src/graph/graph.ts';
import { lowerForFloat64 } from '../src/graph/lower.ts';
import { Rng } from '../src/models/random.ts';
import { Session } from '../src/runtime/session.ts';

const cases: [string, number[], number[], (g: Graph, x: Value, w: Value) => Value][] = [
  ['Conv, stride 2, padding, dilation', [2, 3, 9, 9], [4, 3, 3, 3], (g, x, w) => g.conv(x, w, undefined, { strides: [2, 2], pads: [1, 2, 0, 1], dilations: [1, 2] })],
  ['ConvTranspose, stride 2, output padding', [2, 3, 4, 5], [3, 2, 3, 3], (g, x, w) => g.convTranspose(x, w, undefined, { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 0] })],
  ['AveragePool without padding counted', [2, 3, 7, 7], [1], (g, x) => g.averagePool(x, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })],
  ['AveragePool with padding counted', [2, 3, 6, 6], [1], (g, x) => g.averagePool(x, { kernelShape: [2, 3], strides: [2, 1], pads: [1, 1, 0, 1], countIncludePad: true })],
  ['GlobalAveragePool', [2, 3, 5, 4], [1], (g, x) => g.globalAveragePool(x)],
  ['MaxUnpool of a 2x2 max pool, a row and column left over', [2, 3, 7, 7], [1], (g, x) => {
    const o = { kernelShape: [2, 2], strides: [2, 2] };
    const [y, i] = g.maxPoolWithIndices(x, o);
    return g.maxUnpool(g.mul(y, 3), i, g.ints([2, 3, 7, 7]), x, o);
  }],
];

async function evaluate(dtype: 'float32' | 'float64', xs: number[], ws: number[], build: (g: Graph, x: Value, w: Value) => Value, xd: number[], wd: number[]) {
  const g = new Graph();
  const x = g.input('x', dtype, xs);
  const w = g.input('w', dtype, ws);
  g.output(g.add(build(g, x, w), g.reduceSum(w, undefined, false)), 'y');
  if (dtype === 'float64') lowerForFloat64(g);
  const s = await Session.create(g.toBytes());
  const T = dtype === 'float32' ? Float32Array : Float64Array;
  const out = await s.run({ x: s.tensor(dtype, T.from(xd), xs), w: s.tensor(dtype, T.from(wd), ws) });
  return Array.from(out['y']!.data as Float32Array | Float64Array);
}

for (const [what, xs, ws, build] of cases) {
  test(`lowered ${what} matches the native float32 op`, async () => {
    const r = new Rng(3);
    const xd = Array.from({ length: xs.reduce((a, b) => a * b) }, () => r.normal());
    const wd = Array.from({ length: ws.reduce((a, b) => a * b) }, () => r.normal());
    const native = await evaluate('float32', xs, ws, build, xd, wd);
    const lowered = await evaluate('float64', xs, ws, build, xd, wd);
    assert.equal(lowered.length, native.length);
    native.forEach((v, i) => assert.ok(Math.abs(v - lowered[i]!) < 1e-4 * Math.max(1, Math.abs(v)), `element ${i}: ${v} vs ${lowered[i]}`));
  });
}

// Float32 Conv weight gradients take their patches from a one-hot grouped Conv;
// float64 graphs (the finite-difference checks) take them from strided Slices.
// Both must hold the very same numbers.
test('patches from a one-hot grouped Conv equal the strided-Slice patches exactly', async () => {
  const { extractPatches, patchesByConv, fullWindow } = await import('../src/graph/conv_forms.ts');
  const configs: [number[], number[], { strides?: number[]; pads?: number[]; dilations?: number[] }][] = [
    [[2, 3, 9, 9], [3, 3], { pads: [1, 1, 1, 1] }],
    [[2, 2, 8, 7], [2, 3], { strides: [1, 2], pads: [0, 2, 1, 0], dilations: [2, 2] }],
    [[3, 2, 11], [4], { strides: [3], pads: [2, 0] }],
  ];
  for (const [xs, kernel, o] of configs) {
    const r = new Rng(5);
    const data = Float32Array.from({ length: xs.reduce((a, b) => a * b) }, () => r.normal());
    const results: number[][] = [];
    for (const form of [extractPatches, patchesByConv]) {
      const g = new Graph();
      const x = g.input('x', 'float32', xs);
      const { patches } = form(g, x, fullWindow(kernel, o));
      g.output(g.reshape(patches, [-1]), 'p');
      const s = await Session.create(g.toBytes());
      results.push(Array.from((await s.run({ x: s.tensor('float32', data, xs) }))['p']!.data as Float32Array));
    }
    assert.deepEqual(results[1], results[0], `${xs} kernel ${kernel}`);
  }
});

// Small float32 maps on the CPU take the Conv input gradient from ConvTranspose
// (faster there); everything else, the float64 checks included, from a Conv with
// the flipped kernel. Both must give the same numbers.
test('the ConvTranspose form of the Conv input gradient equals the flipped-kernel Conv form; it is chosen only where it is faster', async () => {
  const { convInputGrad, convInputGradFor, fullWindow } = await import('../src/graph/conv_forms.ts');
  const configs: [number[], number[], number[], { pads?: number[] }][] = [
    // dy shape, W shape, x spatial, window
    [[2, 4, 5, 5], [4, 3, 3, 3], [5, 5], { pads: [1, 1, 1, 1] }],
    [[3, 6, 4, 6], [6, 2, 3, 2], [5, 6], { pads: [0, 1, 1, 0] }],
    [[2, 3, 7], [3, 3, 5], [7], { pads: [2, 2] }],
  ];
  for (const [dys, ws, xSpatial, o] of configs) {
    const r = new Rng(11);
    const dyData = Float32Array.from({ length: dys.reduce((a, b) => a * b) }, () => r.normal());
    const wData = Float32Array.from({ length: ws.reduce((a, b) => a * b) }, () => r.normal());
    const results: number[][] = [];
    for (const form of [convInputGrad, convInputGradFor]) {
      const g = new Graph();
      const dy = g.input('dy', 'float32', dys);
      const w = g.input('w', 'float32', ws);
      const dx = form(g, dy, w, xSpatial, fullWindow(ws.slice(2), o));
      assert.deepEqual(dx.shape, [dys[0], ws[1], ...xSpatial]);
      if (form === convInputGradFor) assert.equal(dx.producer?.opType, 'ConvTranspose', `${dys}: the faster form is chosen`);
      g.output(dx, 'dx');
      const s = await Session.create(g.toBytes());
      results.push(Array.from((await s.run({ dy: s.tensor('float32', dyData, dys), w: s.tensor('float32', wData, ws) }))['dx']!.data as Float32Array));
    }
    results[0]!.forEach((v, i) => assert.ok(Math.abs(v - results[1]![i]!) <= 1e-5 * Math.max(1, Math.abs(v)), `${dys} element ${i}: ${v} vs ${results[1]![i]}`));
  }
  // Where the Conv form stays: float64, WebGPU graphs, strides, large maps, a narrower output side.
  const kept: [string, Target, 'float32' | 'float64', number[], number[], number[], { strides?: number[]; pads?: number[] }][] = [
    ['float64', 'cpu', 'float64', [2, 4, 5, 5], [4, 3, 3, 3], [5, 5], { pads: [1, 1, 1, 1] }],
    ['webgpu', 'webgpu', 'float32', [2, 4, 5, 5], [4, 3, 3, 3], [5, 5], { pads: [1, 1, 1, 1] }],
    ['stride 2', 'cpu', 'float32', [2, 4, 3, 3], [4, 3, 3, 3], [5, 5], { strides: [2, 2], pads: [1, 1, 1, 1] }],
    ['10x10', 'cpu', 'float32', [2, 4, 10, 10], [4, 3, 3, 3], [10, 10], { pads: [1, 1, 1, 1] }],
    ['O < C', 'cpu', 'float32', [2, 3, 5, 5], [3, 4, 3, 3], [5, 5], { pads: [1, 1, 1, 1] }],
  ];
  for (const [what, target, dtype, dys, ws, xSpatial, o] of kept) {
    const g = new Graph('kept', target);
    const dx = convInputGradFor(g, g.input('dy', dtype, dys), g.input('w', dtype, ws), xSpatial, fullWindow(ws.slice(2), o));
    assert.equal(dx.producer?.opType, 'Conv', what);
  }
});
