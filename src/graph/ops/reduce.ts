// Reductions (ReduceSum and its kin, CumSum, ArgMax) and the matrix products
// (MatMul, Gemm).
import { GraphError } from '../../errors.ts';
import type { Value } from '../core.ts';
import { attr, type Attr } from '../ir.ts';
import { broadcastShapes, normAxis, type Dim } from '../shape.ts';
import { ElementwiseOps } from './elementwise.ts';

export class ReductionOps extends ElementwiseOps {
  // --------------------------------------------------------------- reductions

  protected reduce(opType: string, x: Value, axes: readonly number[] | undefined, keepdims: boolean): Value {
    const all = axes === undefined || axes.length === 0;
    const norm = all ? x.shape.map((_, i) => i) : axes.map((a) => normAxis(a, x.rank, opType));
    const shape: Dim[] = [];
    x.shape.forEach((d, i) => {
      if (!norm.includes(i)) shape.push(d);
      else if (keepdims) shape.push(1);
    });
    const inputs = all ? [x] : [x, this.ints(norm)];
    return this.emit(opType, inputs, { keepdims: attr.int(keepdims ? 1 : 0) }, [{ dtype: x.dtype, shape }])[0]!;
  }

  /** Sums over `axes` (all axes when omitted). */
  reduceSum(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceSum', x, axes, keepdims); }
  reduceMean(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceMean', x, axes, keepdims); }
  reduceMax(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceMax', x, axes, keepdims); }
  reduceProd(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceProd', x, axes, keepdims); }
  reduceLogSumExp(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceLogSumExp', x, axes, keepdims); }

  /** Running sum along `axis` (inclusive); same shape as x. */
  cumSum(x: Value, axis: number): Value {
    normAxis(axis, x.rank, 'CumSum');
    return this.emit('CumSum', [x, this.scalar(axis, 'int64')], {}, [{ dtype: x.dtype, shape: x.shape }])[0]!;
  }

  argMax(x: Value, axis = -1, keepdims = false): Value {
    const a = normAxis(axis, x.rank, 'ArgMax');
    const shape = x.shape.flatMap((d, i) => (i !== a ? [d] : keepdims ? [1] : []));
    return this.emit('ArgMax', [x], { axis: attr.int(a), keepdims: attr.int(keepdims ? 1 : 0) }, [{ dtype: 'int64', shape }])[0]!;
  }

  // ------------------------------------------------------------ linear algebra

  matMul(a: Value, b: Value): Value {
    if (a.dtype !== b.dtype) throw new GraphError(`MatMul: dtypes differ (${a} vs ${b})`);
    if (a.rank < 2 || b.rank < 2) throw new GraphError(`MatMul: operands must have rank >= 2 (${a}, ${b})`);
    const [m, k1] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
      throw new GraphError(`MatMul: inner dimensions differ (${a} vs ${b})`);
    }
    const batch = broadcastShapes([a.shape.slice(0, -2), b.shape.slice(0, -2)], 'MatMul');
    return this.emit('MatMul', [a, b], {}, [{ dtype: a.dtype, shape: [...batch, m!, n!] }])[0]!;
  }

  /** alpha * op(A) op(B) + beta * C, with op the optional transpose. */
  gemm(a: Value, b: Value, c?: Value, o: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {}): Value {
    if (a.rank !== 2 || b.rank !== 2) throw new GraphError(`Gemm: operands must be matrices (${a}, ${b})`);
    const m = o.transA ? a.shape[1]! : a.shape[0]!;
    const k1 = o.transA ? a.shape[0]! : a.shape[1]!;
    const k2 = o.transB ? b.shape[1]! : b.shape[0]!;
    const n = o.transB ? b.shape[0]! : b.shape[1]!;
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
      throw new GraphError(`Gemm: inner dimensions differ (${a} vs ${b})`);
    }
    if (c) broadcastShapes([[m, n], c.shape], 'Gemm');
    const attrs: Record<string, Attr> = {};
    if (o.alpha !== undefined && o.alpha !== 1) attrs.alpha = attr.float(o.alpha);
    if (o.beta !== undefined && o.beta !== 1) attrs.beta = attr.float(o.beta);
    if (o.transA) attrs.transA = attr.int(1);
    if (o.transB) attrs.transB = attr.int(1);
    return this.emit('Gemm', c ? [a, b, c] : [a, b], attrs, [{ dtype: a.dtype, shape: [m, n] }])[0]!;
  }
}
