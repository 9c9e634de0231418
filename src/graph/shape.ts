// Static shape arithmetic. A dimension is a number, or a string naming a
// symbolic size (the batch, usually) that is fixed only when the graph runs.
import { GraphError } from '../errors.ts';

export type Dim = number | string;
export type Shape = readonly Dim[];

export function shapeToString(s: Shape): string {
  return `[${s.join(', ')}]`;
}

export function isStatic(s: Shape): s is readonly number[] {
  return s.every((d) => typeof d === 'number');
}

export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new GraphError(`${what}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcast of several shapes (ONNX multidirectional broadcasting). */
export function broadcastShapes(shapes: Shape[], what: string): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const j = i - (rank - s.length);
      if (j < 0) continue;
      const e = s[j]!;
      if (e === 1 || e === d) continue;
      if (d === 1) d = e;
      else if (typeof d === 'string' && typeof e === 'number') d = e;
      else if (typeof d === 'number' && typeof e === 'string') continue;
      else throw new GraphError(`${what}: shapes ${shapes.map(shapeToString).join(' and ')} do not broadcast`);
    }
    out.push(d);
  }
  return out;
}

/** Output length of a sliding window (Conv, pooling) along one axis. */
export function windowOut(len: Dim, k: number, stride: number, padBegin: number, padEnd: number, dilation: number, ceil: boolean, what: string): number {
  if (typeof len !== 'number') throw new GraphError(`${what}: spatial dimensions must be static, got '${len}'`);
  const span = len + padBegin + padEnd - dilation * (k - 1) - 1;
  if (span < 0) throw new GraphError(`${what}: the window (kernel ${k}, dilation ${dilation}) is larger than the padded input (${len})`);
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // With ceil_mode the last window must start inside the input or its left padding.
  if (ceil && (out - 1) * stride >= len + padBegin) out -= 1;
  return out;
}

/**
 * Output shape of Reshape given the requested shape (0 copies the input dim,
 * -1 is inferred). Symbolic dims cancel when they appear on both sides.
 */
export function reshapeShape(input: Shape, requested: readonly Dim[], allowZero: boolean, what: string): Dim[] {
  const out: Dim[] = requested.map((d, i) => (d === 0 && !allowZero ? input[i]! : d));
  const inferAt = out.indexOf(-1);
  if (inferAt < 0) return out;
  if (out.indexOf(-1, inferAt + 1) >= 0) throw new GraphError(`${what}: at most one -1 in a reshape`);
  let inNum = 1;
  const inSym: string[] = [];
  for (const d of input) typeof d === 'number' ? (inNum *= d) : inSym.push(d);
  let outNum = 1;
  for (const [i, d] of out.entries()) {
    if (i === inferAt) continue;
    if (typeof d === 'number') outNum *= d;
    else {
      const k = inSym.indexOf(d);
      if (k < 0) return withFresh(out, inferAt, what);
      inSym.splice(k, 1);
    }
  }
  if (outNum === 0 || inNum % outNum !== 0) {
    if (inSym.length === 0) throw new GraphError(`${what}: cannot reshape ${shapeToString(input)} to ${shapeToString(requested)}`);
    return withFresh(out, inferAt, what);
  }
  const ratio = inNum / outNum;
  if (inSym.length === 0) out[inferAt] = ratio;
  else if (inSym.length === 1) out[inferAt] = ratio === 1 ? inSym[0]! : `${inSym[0]}*${ratio}`;
  else return withFresh(out, inferAt, what);
  return out;
}

function withFresh(out: Dim[], at: number, what: string): Dim[] {
  out[at] = `${what}_d${at}`;
  return out;
}
