// Sums over leading axes as a product with a row of ones. On ONNX Runtime's
// CPU provider a ReduceSum over the first axis of a wide matrix runs several
// times slower than a GEMM of a ones row against it (measured: [128, 512]
// 55 µs vs 9 µs; [64, 18432] 170 µs vs 65 µs): a bias gradient, the batch sum
// of a convolution's per-sample weight gradients. The WebGPU target keeps
// ReduceSum (a ones row for a symbolic batch needs shape arithmetic there).
import { onesLike } from './counts.ts';
import type { Graph, Value } from './graph.ts';
import { formsOf } from './forms.ts';

/** Below this many columns the extra nodes cost more than the ReduceSum. */
const MIN_COLUMNS = 256;

/**
 * Sum of x over its first `lead` axes ([...lead, ...rest] -> [...rest]), or
 * undefined when ReduceSum is the better form (WebGPU, symbolic or narrow
 * trailing dimensions, non-float values).
 */
export function sumLeadingAxes(g: Graph, x: Value, lead: number): Value | undefined {
  if (formsOf(g).wideSums === 'ReduceSum' || (x.dtype !== 'float32' && x.dtype !== 'float64') || lead < 1 || lead >= x.rank) return undefined;
  const rest = x.shape.slice(lead);
  if (!rest.every((d) => typeof d === 'number')) return undefined;
  const columns = (rest as number[]).reduce((p, d) => p * d, 1);
  if (columns < MIN_COLUMNS) return undefined;
  const rows = g.reshape(x, [-1, columns]);
  const leading = x.shape.slice(0, lead);
  const count = leading.every((d) => typeof d === 'number') ? (leading as number[]).reduce((p, d) => p * d, 1) : undefined;
  // [1, rows] of ones: a constant for static leading axes, else ones shaped like one column of `rows`, transposed.
  const ones = count !== undefined
    ? g.constant(x.dtype, [1, count], new Array<number>(count).fill(1))
    : g.transpose(onesLike(g, g.slice(rows, [0], [1], [1])), [1, 0]);
  return g.reshape(g.matMul(ones, rows), rest as number[]);
}
