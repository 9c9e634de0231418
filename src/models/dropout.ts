// Dropout's keep masks: a counter-based hash of (seed, step, layer, element),
// so the same seed and step give the same mask on every runtime and a resumed
// run repeats it exactly. Nothing random is drawn at run time.
//
// Two forms compute a uniform number u in [0, 1) per element:
//  - the int64 form (the CPU and CUDA target): a few LCG rounds modulo 2^31;
//  - the exact-float form (the WebGPU target), because onnxruntime-web's WebGPU
//    provider has no integer Mod and no int64 arithmetic. Every intermediate is
//    an integer below 2^24 held in float32, and only exactly rounded operations
//    touch it (Add, Sub, Mul with exact products, Floor, Mul by powers of two),
//    so wasm, WebGPU and the CPU compute the very same bits, fused or not.
//    The 24-bit state is two 12-bit words mixed by Feistel rounds whose round
//    function squares an affine image of one word; words of the input (seed,
//    step, layer, column, row) are added in between rounds.
import type { Graph, Value } from '../graph/graph.ts';
import { onesLike } from '../graph/counts.ts';
import { LossgraphError } from '../errors.ts';
import { formsOf } from '../graph/forms.ts';

/** Uniform [0, 1) numbers of x's shape, from int64 seed and step scalars (the CPU/CUDA form). */
export function keepUniformInt64(g: Graph, x: Value, seed: Value, step: Value, layer: number): Value {
  const shape = g.shape(x);
  const count = formsOf(g).dropoutCount === 'Size' ? g.size(x) : g.reduceProd(shape, undefined, false);
  const index = g.reshape(g.range(g.constant('int64', [], [0]), count, g.constant('int64', [], [1])), shape);
  const M = 2 ** 31;
  const mod = (v: Value) => g.mod(v, M);
  const lcg = (v: Value) => mod(g.add(g.mul(v, g.constant('int64', [], [1103515245])), g.constant('int64', [], [12345])));
  // All products stay below 2^62: every factor is reduced modulo 2^31 first.
  const key = mod(g.add(g.add(g.mul(mod(seed), g.constant('int64', [], [69069])), g.mul(mod(step), g.constant('int64', [], [362437]))), g.constant('int64', [], [layer * 7919])));
  let h = mod(g.add(g.mul(index, g.constant('int64', [], [40503])), key));
  for (let round = 0; round < 3; round++) h = lcg(h);
  return g.div(g.cast(h, x.dtype), M);
}

/** 12-bit words: the state is (L, R), each an integer in [0, 4096). */
const WORD = 4096;
/** (multiplier, offset) of each Feistel round's affine map; odd multipliers make it a bijection of a word. */
export const ROUND_KEYS: readonly (readonly [number, number])[] = [
  [2897, 1234], [1609, 3577], [3301, 911], [2213, 2749], [3851, 77], [1171, 2003], [2671, 3121], [613, 1913],
];
/** Feistel rounds after the row and column states meet (3 already pass a chi-square test of uniformity; 4 for margin). */
export const FINAL_ROUNDS = 4;
/** Seeds and steps must be exact in float32 for the exact-float form. */
export const EXACT_LIMIT = 2 ** 24;

/**
 * Uniform [0, 1) numbers of x's shape ([batch, features], features known) from
 * int32 seed and step scalars, in exact float arithmetic (the WebGPU form).
 * Seeds and steps must lie in (-2^24, 2^24) to be exact; build checks the seed.
 */
export function keepUniformExactFloat(g: Graph, x: Value, seed: Value, step: Value, layer: number): Value {
  const features = x.shape[1];
  if (x.rank !== 2 || typeof features !== 'number') throw new LossgraphError(`dropout for the WebGPU target needs a [batch, features] input with known features, got ${x}`);
  const dt = x.dtype;
  const c = (v: number) => g.scalar(v, dt);
  // floor(v / 4096) and v mod 4096 for an integer |v| < 2^24: Floor of an exact product by 2^-12.
  const high = (v: Value) => g.floor(g.mul(v, c(1 / WORD)));
  const mod12 = (v: Value) => g.sub(v, g.mul(high(v), c(WORD)));
  const roundFn = (v: Value, k: number) => {
    const [a, b] = ROUND_KEYS[k % ROUND_KEYS.length]!;
    const y = mod12(g.add(g.mul(v, c(a)), c(b)));
    const s = g.add(g.mul(y, y), c(b)); // < 4095^2 + 4096 < 2^24
    return mod12(g.add(high(s), s));
  };
  const rounds = (state: [Value, Value], first: number, n: number): [Value, Value] => {
    let [L, R] = state;
    for (let i = 0; i < n; i++) [L, R] = [R, mod12(g.add(L, roundFn(R, first + i)))];
    return [L, R];
  };
  // Adds a word w (an integer, |w| < 2^24) to the state, then two rounds.
  const absorb = (state: [Value, Value], w: Value, first: number): [Value, Value] =>
    rounds([mod12(g.add(state[0], mod12(w))), mod12(g.add(state[1], high(w)))], first, 2);

  let key: [Value, Value] = [c(layer % WORD), c(0)];
  key = absorb(key, g.cast(seed, dt), 0);
  key = absorb(key, g.cast(step, dt), 2);
  const columns = absorb(key, g.constant(dt, [1, features], Array.from({ length: features }, (_, i) => i)), 4);
  // Row numbers 0..batch-1 as a [batch, 1] column: a running sum of ones over x's first column,
  // which keeps x's symbolic batch dimension.
  const rowIndex = g.sub(g.cumSum(onesLike(g, g.slice(x, [0], [1], [1])), 0), c(1));
  const rows = absorb([c(0), c(0)], rowIndex, 6);
  const [L, R] = rounds([mod12(g.add(columns[0], rows[0])), mod12(g.add(columns[1], rows[1]))], 1, FINAL_ROUNDS);
  return g.mul(g.add(g.mul(L, c(WORD)), R), c(2 ** -24));
}
