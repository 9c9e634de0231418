// Checks autodiff gradients against float64 central finite differences, both
// computed by running the emitted graphs in onnxruntime-node.
import { grad } from '../../src/autograd/grad.ts';
import { Graph, type Target, type Value } from '../../src/graph/graph.ts';
import { lowerForFloat64 } from '../../src/graph/lower.ts';
import { isStatic } from '../../src/graph/shape.ts';
import { Rng } from '../../src/models/random.ts';
import { typedArray, type DType } from '../../src/onnx/dtype.ts';
import { Session, type OrtTensor } from '../../src/runtime/session.ts';
import type { Dim } from '../../src/graph/shape.ts';
import { assertBackwardOps, assertStandardOnnx } from './standard.ts';

export interface CheckInput {
  name: string;
  shape: number[];
  /** Default: standard normal values from the check's seed. */
  data?: ArrayLike<number>;
  /** Default float64. Integer inputs (indices, labels) are fed but not differentiated. */
  dtype?: DType;
  /** Differentiate with respect to this input (default: true for floats). */
  wrt?: boolean;
  /** The shape the graph declares, when it differs from the fed one (symbolic dims). */
  declared?: Dim[];
}

export interface CheckResult {
  maxRelError: number;
  checked: number;
  /** Where the worst error occurred. */
  worst: string;
}

export interface CheckOptions {
  seed?: number;
  /** Finite-difference step, relative to max(1, |x|). */
  h?: number;
  /** Elements probed per input (all when there are fewer). */
  maxProbes?: number;
  /** A rewrite applied after autodiff to both graphs, as a target's lowering is (e.g. lowerForCuda). */
  lower?: (g: Graph) => void;
  /** The target the graphs are built for (its forms are what is checked). */
  target?: Target;
}

/**
 * Builds `build` in float64, differentiates it, and compares the autodiff
 * gradient with central differences. A non-scalar output y is reduced to
 * sum(y * r) with fixed random r, so every output element's gradient counts.
 * Relative error: |analytic - numeric| / max(|analytic|, |numeric|, 1e-3).
 */
export async function gradcheck(
  build: (g: Graph, inputs: Value[]) => Value,
  inputs: CheckInput[],
  opts: CheckOptions = {},
): Promise<CheckResult> {
  const rng = new Rng(opts.seed ?? 1);
  const data = inputs.map((inp) => {
    const n = inp.shape.reduce((a, b) => a * b, 1);
    return Float64Array.from(inp.data ?? Array.from({ length: n }, () => rng.normal()));
  });
  const weightSeed = rng.int(2 ** 31);

  const make = (withGrad: boolean) => {
    const g = new Graph('gradcheck', opts.target);
    const vals = inputs.map((inp) => g.input(inp.name, inp.dtype ?? 'float64', inp.declared ?? inp.shape));
    let y = build(g, vals);
    if (y.rank > 0) {
      if (!isStatic(y.shape)) throw new Error(`gradcheck: output ${y} needs a static shape`);
      const wr = new Rng(weightSeed);
      const n = y.shape.reduce((a, b) => a * b, 1);
      y = g.reduceSum(g.mul(y, g.constant('float64', y.shape, Array.from({ length: n }, () => wr.uniform(0.5, 1.5)))), undefined, false);
    }
    g.output(y, 'loss');
    const wrt = inputs.map((inp, i) => ({ inp, v: vals[i]! })).filter(({ inp }) => (inp.wrt ?? (inp.dtype ?? 'float64') === 'float64'));
    if (withGrad) {
      const grads = grad(g, y, wrt.map((w) => w.v));
      grads.forEach((gv, i) => g.output(gv, `grad_${wrt[i]!.inp.name}`));
    }
    const unlowered = g.toBytes();
    assertStandardOnnx(unlowered, 'gradcheck graph');
    assertBackwardOps(unlowered, 'gradcheck graph');
    opts.lower?.(g);
    lowerForFloat64(g);
    return { bytes: g.toBytes(), wrt: wrt.map((w) => inputs.indexOf(w.inp)) };
  };

  const full = make(true);
  const fwd = make(false);
  const sGrad = await Session.create(full.bytes);
  const sFwd = await Session.create(fwd.bytes);
  const feeds = (override?: { i: number; data: Float64Array }): Record<string, OrtTensor> =>
    Object.fromEntries(inputs.map((inp, i) => {
      const d = override && override.i === i ? override.data : data[i]!;
      const dt = inp.dtype ?? 'float64';
      return [inp.name, sGrad.tensor(dt, dt === 'float64' ? d : typedArray(dt, d), inp.shape)];
    }));

  const analytic = await sGrad.run(feeds());
  let maxRelError = 0;
  let checked = 0;
  let worst = '';
  for (const i of full.wrt) {
    const inp = inputs[i]!;
    const a = analytic[`grad_${inp.name}`]!.data as Float64Array;
    const n = data[i]!.length;
    const probes = n <= (opts.maxProbes ?? 64) ? [...Array(n).keys()] : Array.from({ length: opts.maxProbes ?? 64 }, () => rng.int(n));
    for (const k of probes) {
      const x0 = data[i]![k]!;
      const h = (opts.h ?? 1e-6) * Math.max(1, Math.abs(x0));
      const plus = Float64Array.from(data[i]!);
      plus[k] = x0 + h;
      const minus = Float64Array.from(data[i]!);
      minus[k] = x0 - h;
      const fp = (await sFwd.run(feeds({ i, data: plus })))['loss']!.data[0] as number;
      const fm = (await sFwd.run(feeds({ i, data: minus })))['loss']!.data[0] as number;
      const numeric = (fp - fm) / (2 * h);
      const rel = Math.abs(a[k]! - numeric) / Math.max(Math.abs(a[k]!), Math.abs(numeric), 1e-3);
      checked++;
      if (rel > maxRelError || !Number.isFinite(rel)) {
        maxRelError = Number.isFinite(rel) ? rel : Infinity;
        worst = `${inp.name}[${k}]: autodiff ${a[k]} vs finite difference ${numeric}`;
      }
    }
  }
  await sGrad.release();
  await sFwd.release();
  return { maxRelError, checked, worst };
}
