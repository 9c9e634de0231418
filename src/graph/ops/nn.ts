// The network layers' ops: BatchNormalization (inference and training
// mode), Conv and ConvTranspose, the pools.
import { GraphError } from '../../errors.ts';
import type { Value } from '../core.ts';
import { attr, windowAttrs, type Attr, type AveragePoolOptions, type ConvOptions, type ConvTransposeOptions, type PoolOptions } from '../ir.ts';
import { windowOut, type Dim } from '../shape.ts';
import { ShapeOps } from './shape.ts';

export class NetworkOps extends ShapeOps {
  // ---------------------------------------------------------- normalisation

  /**
   * BatchNormalization over axis 1 with the given statistics (`training_mode`
   * 0): (x - mean) / sqrt(var + eps) * scale + bias, per channel, one pass.
   */
  batchNormalization(x: Value, scale: Value, bias: Value, mean: Value, variance: Value, epsilon: number): Value {
    return this.emit('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: attr.float(epsilon) }, [{ dtype: x.dtype, shape: x.shape }])[0]!;
  }

  /**
   * BatchNormalization in training mode: normalises with the batch's own mean
   * and (population) variance. With momentum 0 its second and third outputs
   * are exactly the batch mean and variance (input statistics times 0, plus
   * the batch's times 1).
   */
  batchNormalizationTraining(x: Value, scale: Value, bias: Value, epsilon: number): { y: Value; mean: Value; variance: Value } {
    const c = x.shape[1]!;
    if (typeof c !== 'number') throw new GraphError(`BatchNormalization: the channel axis of ${x} must be static`);
    // ONNX Runtime (1.30) may write the running statistics into the buffers of
    // the input statistics, and merges equal initializers first, so constant
    // inputs here corrupted other constants. Values computed from `scale` at
    // run time (0 and 1 whatever scale holds, NaN included) are private to this node.
    const finite = this.equal(scale, scale);
    const [zeros, ones] = [0, 1].map((v) => this.where(finite, this.scalar(v, x.dtype), this.scalar(v, x.dtype)));
    const [y, mean, variance] = this.emit('BatchNormalization', [x, scale, bias, zeros!, ones!],
      { epsilon: attr.float(epsilon), momentum: attr.float(0), training_mode: attr.int(1) },
      [{ dtype: x.dtype, shape: x.shape }, { dtype: x.dtype, shape: [c] }, { dtype: x.dtype, shape: [c] }]);
    return { y: y!, mean: mean!, variance: variance! };
  }

  // ------------------------------------------------------ convolution, pooling

  conv(x: Value, w: Value, b?: Value, o: ConvOptions = {}): Value {
    const sp = x.rank - 2;
    if (sp < 1 || w.rank !== x.rank) throw new GraphError(`Conv: input ${x} and kernel ${w} do not fit`);
    const group = o.group ?? 1;
    const a = windowAttrs(sp, o);
    const cin = x.shape[1]!;
    const wc = w.shape[1]!;
    if (typeof cin === 'number' && typeof wc === 'number' && cin !== wc * group) {
      throw new GraphError(`Conv: input has ${cin} channels, kernel ${w} expects ${Number(wc) * group}`);
    }
    const kernel = w.shape.slice(2).map(Number);
    const spatial = kernel.map((k, i) => windowOut(x.shape[2 + i]!, k, a.strides[i]!, a.pads[i]!, a.pads[i + sp]!, a.dilations[i]!, false, 'Conv'));
    const attrs: Record<string, Attr> = {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(a.strides),
      pads: attr.ints(a.pads),
      dilations: attr.ints(a.dilations),
    };
    if (group !== 1) attrs.group = attr.int(group);
    return this.emit('Conv', b ? [x, w, b] : [x, w], attrs, [{ dtype: x.dtype, shape: [x.shape[0]!, w.shape[0]!, ...spatial] }])[0]!;
  }

  convTranspose(x: Value, w: Value, b?: Value, o: ConvTransposeOptions = {}): Value {
    const sp = x.rank - 2;
    if (sp < 1 || w.rank !== x.rank) throw new GraphError(`ConvTranspose: input ${x} and kernel ${w} do not fit`);
    const group = o.group ?? 1;
    const a = windowAttrs(sp, o);
    const outPad = o.outputPadding ?? Array(sp).fill(0);
    const kernel = w.shape.slice(2).map(Number);
    const spatial = kernel.map((k, i) => {
      const len = x.shape[2 + i]!;
      if (typeof len !== 'number') throw new GraphError('ConvTranspose: spatial dimensions must be static');
      return a.strides[i]! * (len - 1) + outPad[i]! + (k - 1) * a.dilations[i]! + 1 - a.pads[i]! - a.pads[i + sp]!;
    });
    const attrs: Record<string, Attr> = {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(a.strides),
      pads: attr.ints(a.pads),
      dilations: attr.ints(a.dilations),
    };
    if (o.outputPadding) attrs.output_padding = attr.ints(outPad);
    if (group !== 1) attrs.group = attr.int(group);
    const cout = typeof w.shape[1] === 'number' ? w.shape[1] * group : w.shape[1]!;
    return this.emit('ConvTranspose', b ? [x, w, b] : [x, w], attrs, [{ dtype: x.dtype, shape: [x.shape[0]!, cout, ...spatial] }])[0]!;
  }

  protected poolShape(opType: string, x: Value, o: PoolOptions): { attrs: Record<string, Attr>; shape: Dim[] } {
    const sp = x.rank - 2;
    if (o.kernelShape.length !== sp) throw new GraphError(`${opType}: kernel [${o.kernelShape}] does not fit ${x}`);
    const a = windowAttrs(sp, o);
    const spatial = o.kernelShape.map((k, i) =>
      windowOut(x.shape[2 + i]!, k, a.strides[i]!, a.pads[i]!, a.pads[i + sp]!, a.dilations[i]!, !!o.ceilMode, opType),
    );
    const attrs: Record<string, Attr> = {
      kernel_shape: attr.ints(o.kernelShape),
      strides: attr.ints(a.strides),
      pads: attr.ints(a.pads),
    };
    if (o.dilations) attrs.dilations = attr.ints(a.dilations);
    if (o.ceilMode) attrs.ceil_mode = attr.int(1);
    return { attrs, shape: [x.shape[0]!, x.shape[1]!, ...spatial] };
  }

  maxPool(x: Value, o: PoolOptions): Value {
    const { attrs, shape } = this.poolShape('MaxPool', x, o);
    return this.emit('MaxPool', [x], attrs, [{ dtype: x.dtype, shape }])[0]!;
  }

  /** MaxPool that also returns the flat index (over N, C and space) of each maximum. */
  maxPoolWithIndices(x: Value, o: PoolOptions): [Value, Value] {
    const { attrs, shape } = this.poolShape('MaxPool', x, o);
    const [y, idx] = this.emit('MaxPool', [x], attrs, [{ dtype: x.dtype, shape }, { dtype: 'int64', shape }]);
    return [y!, idx!];
  }

  /**
   * MaxUnpool: each value of `x` placed at its flat index (as MaxPool's second
   * output gives it) in a zero tensor of shape `outputShape`, the shape of the
   * pooled input. The window attributes are the pool's.
   */
  maxUnpool(x: Value, indices: Value, outputShape: Value, like: Value, o: PoolOptions): Value {
    const attrs: Record<string, Attr> = { kernel_shape: attr.ints(o.kernelShape), strides: attr.ints(o.strides ?? o.kernelShape.map(() => 1)) };
    if (o.pads) attrs.pads = attr.ints(o.pads);
    return this.emit('MaxUnpool', [x, indices, outputShape], attrs, [{ dtype: x.dtype, shape: like.shape }])[0]!;
  }

  averagePool(x: Value, o: AveragePoolOptions): Value {
    const { attrs, shape } = this.poolShape('AveragePool', x, o);
    if (o.countIncludePad) attrs.count_include_pad = attr.int(1);
    return this.emit('AveragePool', [x], attrs, [{ dtype: x.dtype, shape }])[0]!;
  }

  globalAveragePool(x: Value): Value {
    const shape = [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)];
    return this.emit('GlobalAveragePool', [x], {}, [{ dtype: x.dtype, shape }])[0]!;
  }
}
