// Elementwise ops: arithmetic and comparisons with numpy broadcasting (a
// number operand becomes a scalar of the other's dtype), unary math and
// activations, Sum, Where, Cast, Clip, and the softmax normalisers.
import { GraphError } from '../../errors.ts';
import { ONNX_DTYPE_CODE, type DType } from '../../onnx/dtype.ts';
import { GraphCore, Value } from '../core.ts';
import { attr } from '../ir.ts';
import { broadcastShapes, normAxis } from '../shape.ts';

export class ElementwiseOps extends GraphCore {
  // -------------------------------------------------------- elementwise math

  add(a: Value, b: Value | number): Value { return this.binary('Add', a, this.lift(b, a)); }
  sub(a: Value, b: Value | number): Value { return this.binary('Sub', a, this.lift(b, a)); }
  mul(a: Value, b: Value | number): Value { return this.binary('Mul', a, this.lift(b, a)); }
  div(a: Value, b: Value | number): Value { return this.binary('Div', a, this.lift(b, a)); }
  pow(a: Value, b: Value | number): Value { return this.binary('Pow', a, this.lift(b, a)); }
  /** Integer remainder with the sign of the divisor (fmod = 0). */
  mod(a: Value, b: Value | number): Value { return this.binary('Mod', a, this.lift(b, a)); }
  max(a: Value, b: Value | number): Value { return this.binary('Max', a, this.lift(b, a)); }
  min(a: Value, b: Value | number): Value { return this.binary('Min', a, this.lift(b, a)); }
  equal(a: Value, b: Value | number): Value { return this.binary('Equal', a, this.lift(b, a), 'bool'); }
  less(a: Value, b: Value | number): Value { return this.binary('Less', a, this.lift(b, a), 'bool'); }
  lessOrEqual(a: Value, b: Value | number): Value { return this.binary('LessOrEqual', a, this.lift(b, a), 'bool'); }
  greater(a: Value, b: Value | number): Value { return this.binary('Greater', a, this.lift(b, a), 'bool'); }
  greaterOrEqual(a: Value, b: Value | number): Value { return this.binary('GreaterOrEqual', a, this.lift(b, a), 'bool'); }
  and(a: Value, b: Value): Value { return this.binary('And', a, b, 'bool'); }
  not(x: Value): Value { return this.unary('Not', x); }

  neg(x: Value): Value { return this.unary('Neg', x); }
  exp(x: Value): Value { return this.unary('Exp', x); }
  log(x: Value): Value { return this.unary('Log', x); }
  sqrt(x: Value): Value { return this.unary('Sqrt', x); }
  abs(x: Value): Value { return this.unary('Abs', x); }
  floor(x: Value): Value { return this.unary('Floor', x); }
  sign(x: Value): Value { return this.unary('Sign', x); }
  relu(x: Value): Value { return this.unary('Relu', x); }
  sigmoid(x: Value): Value { return this.unary('Sigmoid', x); }
  tanh(x: Value): Value { return this.unary('Tanh', x); }
  reciprocal(x: Value): Value { return this.unary('Reciprocal', x); }
  identity(x: Value): Value { return this.unary('Identity', x); }

  /** Elementwise sum of any number of values (broadcasting), one node. */
  sum(xs: readonly Value[]): Value {
    if (xs.length === 0) throw new GraphError('Sum: needs at least one input');
    if (xs.length === 1) return xs[0]!;
    const shape = broadcastShapes(xs.map((x) => x.shape), 'Sum');
    return this.emit('Sum', xs, {}, [{ dtype: xs[0]!.dtype, shape }])[0]!;
  }

  where(cond: Value, a: Value | number, b: Value | number): Value {
    const like = a instanceof Value ? a : (b as Value);
    if (!(like instanceof Value)) throw new GraphError('Where: one branch must be a Value');
    const av = this.lift(a, like);
    const bv = this.lift(b, like);
    if (cond.dtype !== 'bool') throw new GraphError(`Where: condition must be bool, got ${cond}`);
    if (av.dtype !== bv.dtype) throw new GraphError(`Where: branch dtypes differ (${av} vs ${bv})`);
    const shape = broadcastShapes([cond.shape, av.shape, bv.shape], 'Where');
    return this.emit('Where', [cond, av, bv], {}, [{ dtype: av.dtype, shape }])[0]!;
  }

  cast(x: Value, to: DType): Value {
    const out = this.emit('Cast', [x], { to: attr.int(ONNX_DTYPE_CODE[to]) }, [{ dtype: to, shape: x.shape }])[0]!;
    if (x.known && (to === 'int64' || to === 'int32')) out.known = x.known;
    return out;
  }

  clip(x: Value, min?: Value | number, max?: Value | number): Value {
    const lo = min === undefined ? null : this.lift(min, x);
    const hi = max === undefined ? null : this.lift(max, x);
    return this.emit('Clip', [x, lo, hi], {}, [{ dtype: x.dtype, shape: x.shape }])[0]!;
  }

  // ------------------------------------------------------------ normalisers

  softmax(x: Value, axis = -1): Value {
    normAxis(axis, x.rank, 'Softmax');
    return this.unary('Softmax', x, { axis: attr.int(axis) });
  }

  logSoftmax(x: Value, axis = -1): Value {
    normAxis(axis, x.rank, 'LogSoftmax');
    return this.unary('LogSoftmax', x, { axis: attr.int(axis) });
  }
}
