// BatchNormalization. One rule for both modes; the training-mode backward is
// the closed form over the batch statistics (as in cuDNN and PyTorch), which
// takes a handful of passes over the activation instead of the dozen that
// differentiating mean, variance and normalisation op by op would emit.
import { registerGradient } from '../registry.ts';
import { elementCount } from '../../graph/counts.ts';
import type { Graph, Value } from '../../graph/graph.ts';
import { floatAttr, intAttr, refuse } from './util.ts';

registerGradient('BatchNormalization', ({ g, node, x, y, dy, needs }) => {
  const [X, scale, , inMean, inVar] = x as [Value, Value, Value, Value, Value];
  // Attributes are float32 in the model: use the value ONNX Runtime computes with.
  const eps = Math.fround(floatAttr(node, 'epsilon', 1e-5));
  const training = intAttr(node, 'training_mode', 0) === 1;
  if (X.rank < 2) refuse(node, 'input of rank below 2');
  const dt = X.dtype;
  const axes = Array.from({ length: X.rank }, (_, i) => i).filter((i) => i !== 1);
  // [C] -> [1, C, 1, ...] to broadcast over X.
  const perChannel = (v: Value) => g.reshape(v, [1, -1, ...axes.slice(1).map(() => 1)]);
  const dY = dy[0];
  const channels = scale.shape[0];
  if (typeof channels !== 'number') refuse(node, 'a symbolic channel count');
  const filled = (value: number) => g.constant(dt, [channels], new Array<number>(channels).fill(value));
  const [ones, zeros] = [filled(1), filled(0)];

  if (!training) {
    // y = xhat * scale + bias, xhat = (X - mean) * r, r = (var + eps)^-1/2: all statistics are inputs.
    if (!dY) return [];
    const r = g.pow(g.add(inVar, eps), -0.5);
    const a = g.mul(scale, r);
    const sg = needs[2] || needs[3] ? g.reduceSum(dY, axes, false) : undefined;
    const sgx = needs[1] || needs[4] ? g.reduceSum(g.mul(dY, g.batchNormalization(X, ones, zeros, inMean, inVar, eps)), axes, false) : undefined;
    return [
      needs[0] ? g.mul(dY, perChannel(a)) : undefined,
      needs[1] ? sgx : undefined,
      needs[2] ? sg : undefined,
      needs[3] ? g.neg(g.mul(a, sg!)) : undefined,
      needs[4] ? g.mul(g.mul(g.mul(a, r), sgx!), -0.5) : undefined,
    ];
  }

  // Training mode: y normalises with the batch mean m and population variance v;
  // running_mean = inMean * momentum + m * (1 - momentum), likewise the variance.
  const momentum = Math.fround(floatAttr(node, 'momentum', 0.9));
  const n = elementCount(g, X, axes);
  const [m, v] = batchStatistics(g, X, y, momentum, axes, n);
  const r = g.pow(g.add(v, eps), -0.5);
  const [dRunMean, dRunVar] = [dy[1], dy[2]];
  // dX = dY * a + xhat * b + c per channel; xhat * b + c is itself a BatchNormalization of X.
  let a: Value | undefined;
  let b: Value | undefined;
  let c: Value | undefined;
  let sg: Value | undefined;
  let sgx: Value | undefined;
  if (dY) {
    sg = g.reduceSum(dY, axes, false);
    sgx = g.reduceSum(g.mul(dY, g.batchNormalization(X, ones, zeros, m, v, eps)), axes, false);
    a = g.mul(scale, r);
    b = g.neg(g.div(g.mul(a, sgx), n));
    c = g.neg(g.div(g.mul(a, sg), n));
  }
  const keep = 1 - momentum;
  // The running mean moves by (1 - momentum) / N per element; the running
  // variance by 2 (1 - momentum) (X - m) / N = 2 (1 - momentum) xhat / (N r).
  if (dRunMean) c = addTo(g, c, g.div(g.mul(dRunMean, keep), n));
  if (dRunVar) b = addTo(g, b, g.div(g.mul(dRunVar, 2 * keep), g.mul(n, r)));
  let dX: Value | undefined;
  if (needs[0] && (b || c)) {
    const affine = g.batchNormalization(X, b ?? zeros, c ?? zeros, m, v, eps);
    dX = a && dY ? g.add(g.mul(dY, perChannel(a)), affine) : affine;
  }
  return [
    dX,
    needs[1] ? sgx : undefined,
    needs[2] ? sg : undefined,
    needs[3] && dRunMean ? g.mul(dRunMean, momentum) : undefined,
    needs[4] && dRunVar ? g.mul(dRunVar, momentum) : undefined,
  ];
});

function addTo(g: Graph, acc: Value | undefined, v: Value): Value {
  return acc ? g.add(acc, v) : v;
}

/**
 * The batch mean and population variance the training-mode node normalised
 * with: with momentum 0 its running outputs are exactly those (input
 * statistics times 0 plus the batch's times 1); else they are recomputed.
 */
function batchStatistics(g: Graph, X: Value, y: readonly Value[], momentum: number, axes: number[], n: Value): [Value, Value] {
  if (momentum === 0 && y[1] && y[2]) return [y[1], y[2]];
  const mean = g.div(g.reduceSum(X, axes, true), n);
  const centred = g.sub(X, mean);
  return [g.reshape(mean, [-1]), g.div(g.reduceSum(g.mul(centred, centred), axes, false), n)];
}
