// One-op models on onnxruntime-web's WebGPU provider with CPU fallback off:
// which op / element type pairs it runs (and whether the result matches wasm).
// The op list is what lossgraph's graphs use or could use instead. Not part of
// npm test. Usage: node --import tsx bench/webgpu_single_ops.ts
import { openProbePage } from './webgpu/harness.ts';
import { Graph } from '../src/graph/graph.ts';
import type { DType } from '../src/onnx/dtype.ts';

type Feed = { type: string; data: number[]; dims: number[] };
const cases: { name: string; build: (g: Graph) => void; feeds: Record<string, Feed> }[] = [];
const v = (dims: number[], type = 'float32', f = (i: number) => (i % 5) - 2): Feed => ({ type, dims, data: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => f(i)) });
for (const t of ['int32', 'int64'] as DType[]) {
  const lab = (g: Graph) => g.input('y', t, [4]);
  const feeds = { y: v([4], t, (i) => i % 3) };
  cases.push({ name: `Equal ${t}`, build: (g) => g.output(g.cast(g.equal(lab(g), g.constant(t, [], [1])), 'float32'), 'o'), feeds });
  cases.push({ name: `Greater ${t}`, build: (g) => g.output(g.cast(g.greater(lab(g), g.constant(t, [], [0])), 'float32'), 'o'), feeds });
  cases.push({ name: `Where ${t}`, build: (g) => { const y = lab(g); g.output(g.where(g.equal(g.cast(y, 'float32'), 1), g.constant(t, [], [0]), y), 'o'); }, feeds });
  cases.push({ name: `Unsqueeze ${t}`, build: (g) => g.output(g.cast(g.unsqueeze(lab(g), [1]), 'float32'), 'o'), feeds });
  cases.push({ name: `Cast ${t}->float`, build: (g) => g.output(g.cast(lab(g), 'float32'), 'o'), feeds });
  cases.push({ name: `Cast float->${t}`, build: (g) => g.output(g.cast(g.input('x', 'float32', [4]), t), 'o'), feeds: { x: v([4]) } });
  cases.push({ name: `GatherElements indices ${t}`, build: (g) => g.output(g.gatherElements(g.input('x', 'float32', [4, 3]), g.unsqueeze(lab(g), [1]), 1), 'o'), feeds: { ...feeds, x: v([4, 3]) } });
  cases.push({ name: `Gather data ${t}`, build: (g) => g.output(g.cast(g.gather(g.constant(t, [3], [2, 0, 1]), lab(g), 0), 'float32'), 'o'), feeds });
  cases.push({ name: `Mul+Add+Mod ${t}`, build: (g) => { const y = lab(g); g.output(g.cast(g.mod(g.add(g.mul(y, g.constant(t, [], [7])), g.constant(t, [], [3])), g.constant(t, [], [5])), 'float32'), 'o'); }, feeds });
  cases.push({ name: `ReduceSum ${t}`, build: (g) => g.output(g.reduceSum(lab(g), [0], false), 'o'), feeds });
}
cases.push({ name: 'Floor', build: (g) => g.output(g.floor(g.mul(g.input('x', 'float32', [4]), g.scalar(1 / 3, 'float32'))), 'o'), feeds: { x: v([4]) } });
cases.push({ name: 'CumSum float', build: (g) => g.output(g.cumSum(g.input('x', 'float32', [4, 3]), 0), 'o'), feeds: { x: v([4, 3]) } });
cases.push({ name: 'LogSoftmax', build: (g) => g.output(g.logSoftmax(g.input('x', 'float32', [4, 3]), 1), 'o'), feeds: { x: v([4, 3]) } });
cases.push({ name: 'ReduceLogSumExp', build: (g) => g.output(g.reduceLogSumExp(g.input('x', 'float32', [4, 3]), [1], true), 'o'), feeds: { x: v([4, 3]) } });
cases.push({ name: 'Sum of 2', build: (g) => { const x = g.input('x', 'float32', [4]); g.output(g.sum([x, g.neg(x)]), 'o'); }, feeds: { x: v([4]) } });
cases.push({ name: 'Sum of 3', build: (g) => { const x = g.input('x', 'float32', [4]); g.output(g.sum([x, g.neg(x), g.exp(x)]), 'o'); }, feeds: { x: v([4]) } });
cases.push({ name: 'ConstantOfShape', build: (g) => g.output(g.constantOfShape(g.shape(g.input('x', 'float32', [4])), 1, 'float32'), 'o'), feeds: { x: v([4]) } });
cases.push({ name: 'Expand(1, Shape(x))', build: (g) => { const x = g.input('x', 'float32', [4, 3]); g.output(g.expand(g.scalar(1, 'float32'), g.shape(x)), 'o'); }, feeds: { x: v([4, 3]) } });
cases.push({ name: 'MaxPool', build: (g) => g.output(g.maxPool(g.input('x', 'float32', [1, 1, 4, 4]), { kernelShape: [2, 2], strides: [2, 2] }), 'o'), feeds: { x: v([1, 1, 4, 4]) } });
cases.push({ name: 'MaxPool with Indices', build: (g) => { const [y, i] = g.maxPoolWithIndices(g.input('x', 'float32', [1, 1, 4, 4]), { kernelShape: [2, 2], strides: [2, 2] }); g.output(y, 'o'); g.output(g.cast(i, 'float32'), 'i'); }, feeds: { x: v([1, 1, 4, 4]) } });
cases.push({ name: 'ArgMax', build: (g) => g.output(g.cast(g.argMax(g.input('x', 'float32', [4, 3]), 1), 'float32'), 'o'), feeds: { x: v([4, 3]) } });
cases.push({ name: 'ScatterElements add', build: (g) => g.output(g.scatterElements(g.input('x', 'float32', [4, 3]), g.constant('int64', [4, 1], [0, 2, 1, 0]), g.input('u', 'float32', [4, 1]), 1, 'add'), 'o'), feeds: { x: v([4, 3]), u: v([4, 1]) } });

const { page, close } = await openProbePage();
console.log('| op | WebGPU, no CPU fallback | equals wasm |\n| --- | --- | --- |');
for (const c of cases) {
  const g = new Graph('op');
  c.build(g);
  const bytes = Array.from(g.toBytes());
  const probe = (p: string) => page.evaluate(([b, pp, f]) => (globalThis as unknown as { probe(b: number[], p: string, f: unknown): Promise<{ error?: string; out?: Record<string, number[]> }> }).probe(b, pp, f), [bytes, p, c.feeds] as const);
  const [gpu, cpu] = [await probe('webgpu'), await probe('wasm')];
  const same = gpu.out && cpu.out ? JSON.stringify(gpu.out) === JSON.stringify(cpu.out) || Object.keys(cpu.out).every((k) => cpu.out![k]!.every((x, i) => Math.abs(x - gpu.out![k]![i]!) < 1e-5)) : undefined;
  console.log(`| ${c.name} | ${gpu.error ? `no: ${gpu.error.includes('fallback') ? 'needs the CPU' : gpu.error.slice(0, 90)}` : 'yes'} | ${same === undefined ? '' : same ? 'yes' : 'NO'} |`);
}
await close();
