// Layers on top of the graph builder. A ModelBuilder records the parameters
// and state a model declares, and hands them out as graph inputs (training and
// eval graphs: fed each run) or as initializers (inference graph: baked in).
import { keepUniformExactFloat, keepUniformInt64 } from './dropout.ts';
import { elementCount } from '../graph/counts.ts';
import { ArgumentError, LossgraphError } from '../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';
import type { Init, ParamSpec } from './params.ts';
import { formsOf } from '../graph/forms.ts';

export type GraphKind = 'training' | 'eval' | 'inference';

/** Non-trainable tensors carried from step to step (batch-norm running statistics). */
export interface StateSpec {
  name: string;
  shape: number[];
  /** Initial value of every element. */
  init: number;
  /** Initial values, when given (an imported model's); `init` is then unused. */
  data?: Float32Array;
}

/**
 * The most parameters one model may have: 250 million is 1 GB of float32
 * weights, 3 GB with AdamW's two moments, before any activation. A queued
 * mlp:65536,65536,65536 (8.6e9) grew a worker to 5 GB in 20 s before failing.
 */
export const MAX_MODEL_PARAMETERS = 250_000_000;

export class ModelBuilder {
  readonly params: ParamSpec[] = [];
  private parameterCount = 0;
  /** The graph value of each parameter, in the order of `params`. */
  readonly paramValues: Value[] = [];
  readonly state: StateSpec[] = [];
  /** New values of state tensors, computed by a training graph. */
  readonly stateUpdates = new Map<string, Value>();
  private dropoutCount = 0;

  readonly dtype: 'float32' | 'float64';

  constructor(
    readonly g: Graph,
    readonly kind: GraphKind,
    /** Values to bake into an inference graph, by parameter or state name. */
    private readonly values?: ReadonlyMap<string, Float32Array>,
    /** int64 scalars that make dropout masks differ per run and per step. */
    private readonly rngInputs?: { seed: Value; step: Value },
    opts: {
      /** float64 builds models for finite-difference checks. */
      dtype?: 'float32' | 'float64';
      /** Existing values to use for parameters and state, by name, instead of new graph inputs. */
      inputs?: ReadonlyMap<string, Value>;
    } = {},
  ) {
    this.dtype = opts.dtype ?? 'float32';
    this.inputs = opts.inputs;
  }

  private readonly inputs?: ReadonlyMap<string, Value>;

  private tensor(name: string, shape: number[]): Value {
    const given = this.inputs?.get(name);
    if (given) return given;
    if (this.kind !== 'inference') return this.g.input(name, this.dtype, shape);
    const data = this.values?.get(name);
    if (!data) throw new LossgraphError(`no value for '${name}' to bake into the inference graph`);
    return this.g.initializer(name, 'float32', shape, data);
  }

  param(name: string, shape: number[], init: Init, fanIn: number, fanOut: number): Value {
    this.count(name, shape);
    this.params.push({ name, shape, init, fanIn, fanOut });
    const v = this.tensor(name, shape);
    this.paramValues.push(v);
    return v;
  }

  /** Refuses the parameter that takes the model past MAX_MODEL_PARAMETERS, before anything is allocated for it. */
  private count(name: string, shape: number[]): void {
    this.parameterCount += shape.reduce((a, b) => a * b, 1);
    if (this.parameterCount > MAX_MODEL_PARAMETERS) {
      throw new ArgumentError(`the model has more than ${MAX_MODEL_PARAMETERS / 1e6} million parameters by '${name}' [${shape.join(', ')}] (${(this.parameterCount / 1e6).toFixed(0)} million so far), the most one model may have; make it narrower`);
    }
  }

  stateTensor(name: string, shape: number[], init: number): Value {
    this.state.push({ name, shape, init });
    return this.tensor(name, shape);
  }

  /** A trainable parameter whose initial value is given (an imported model's weight). */
  givenParam(name: string, shape: number[], data: Float32Array): Value {
    const fan = shape.slice(1).reduce((a, b) => a * b, 1);
    this.count(name, shape);
    this.params.push({ name, shape, init: 'given', fanIn: fan, fanOut: shape[0] ?? 1, data });
    const v = this.tensor(name, shape);
    this.paramValues.push(v);
    return v;
  }

  /** A state tensor whose initial value is given (an imported model's running statistics). */
  givenState(name: string, shape: number[], data: Float32Array): Value {
    this.state.push({ name, shape, init: 0, data });
    return this.tensor(name, shape);
  }

  /**
   * Batch norm with batch statistics in a training graph, updating the given
   * running statistics as ONNX defines it: running * keep + batch * (1 - keep),
   * the variance unbiased (as PyTorch, whose momentum is 1 - keep).
   */
  trainingBatchNorm(x: Value, scale: Value, bias: Value, runMean: Value, runVar: Value, eps: number, keep: number): Value {
    const g = this.g;
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const { mean, variance, y } = formsOf(g).batchNormTraining === 'reductions' ? this.batchNormByOps(x, scale, bias, eps) : g.batchNormalizationTraining(x, scale, bias, eps);
    const n = elementCount(g, x, axes);
    const unbiased = g.mul(variance, g.div(n, g.sub(n, 1)));
    this.stateUpdates.set(runMean.name, g.add(g.mul(runMean, keep), g.mul(mean, 1 - keep)));
    this.stateUpdates.set(runVar.name, g.add(g.mul(runVar, keep), g.mul(unbiased, 1 - keep)));
    return y;
  }

  // ---------------------------------------------------------------- layers

  /** x [B, in] -> [B, units]. */
  dense(name: string, x: Value, units: number, init: Init = 'he-normal'): Value {
    const fanIn = Number(x.shape[1]);
    const w = this.param(`${name}.weight`, [fanIn, units], init, fanIn, units);
    const b = this.param(`${name}.bias`, [units], 'zeros', fanIn, units);
    return this.g.gemm(x, w, b);
  }

  /** 2-D convolution, square kernel, 'same' padding for odd kernels at stride 1. */
  conv2d(name: string, x: Value, filters: number, kernel = 3, stride = 1): Value {
    const cin = Number(x.shape[1]);
    const pad = Math.floor((kernel - 1) / 2);
    const fanIn = cin * kernel * kernel;
    const w = this.param(`${name}.weight`, [filters, cin, kernel, kernel], 'he-normal', fanIn, filters * kernel * kernel);
    const b = this.param(`${name}.bias`, [filters], 'zeros', fanIn, filters);
    return this.g.conv(x, w, b, { strides: [stride, stride], pads: [pad, pad, pad, pad] });
  }

  /** Max pooling, size x size windows at stride size. */
  maxPool2d(x: Value, size = 2): Value {
    const opts = { kernelShape: [size, size], strides: [size, size] };
    if (this.kind !== 'training' || formsOf(this.g).maxPoolTraining === 'one MaxPool, window slots') return this.g.maxPool(x, opts);
    // CPU training graphs pool along columns, then rows: the same output, and
    // each pass's gradient is a few branch-free ops (see the MaxPool rule),
    // where MaxPool with Indices is several times slower on real activations.
    const columns = this.g.maxPool(x, { kernelShape: [1, size], strides: [1, size] });
    return this.g.maxPool(columns, { kernelShape: [size, 1], strides: [size, 1] });
  }

  avgPool2d(x: Value, size = 2): Value {
    return this.g.averagePool(x, { kernelShape: [size, size], strides: [size, size] });
  }

  /**
   * Batch normalisation over all axes but the channel axis (1). Training
   * graphs normalise with the batch statistics and output updated running
   * statistics (PyTorch's momentum convention and unbiased running variance);
   * eval and inference graphs use the running statistics. On the CPU target
   * each is one BatchNormalization node (one pass over x).
   */
  batchNorm(name: string, x: Value, momentum = 0.1, eps = 1e-5): Value {
    const g = this.g;
    const c = Number(x.shape[1]);
    const bshape = x.shape.map((_, i) => (i === 1 ? c : 1));
    const scale = this.param(`${name}.scale`, [c], 'ones', c, c);
    const shift = this.param(`${name}.shift`, [c], 'zeros', c, c);
    const runMean = this.stateTensor(`${name}.running_mean`, [c], 0);
    const runVar = this.stateTensor(`${name}.running_var`, [c], 1);
    if (this.kind === 'training') return this.trainingBatchNorm(x, scale, shift, runMean, runVar, eps, 1 - momentum);
    if (formsOf(g).batchNormEval === 'elementwise') return this.normalise(x, g.reshape(runMean, bshape), g.reshape(runVar, bshape), scale, shift, eps);
    return g.batchNormalization(x, scale, shift, runMean, runVar, eps);
  }

  /**
   * Training-mode batch norm from reductions and elementwise ops (the
   * WebGPU form; the CPU form is one BatchNormalization node, whose gradient
   * rule is the closed form). Batch mean and population variance are [C].
   */
  private batchNormByOps(x: Value, scale: Value, shift: Value, eps: number): { mean: Value; variance: Value; y: Value } {
    const g = this.g;
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const mean = g.reduceMean(x, axes, true);
    const centred = g.sub(x, mean);
    const variance = g.reduceMean(g.mul(centred, centred), axes, true);
    return { mean: g.reshape(mean, [-1]), variance: g.reshape(variance, [-1]), y: this.normalise(x, mean, variance, scale, shift, eps) };
  }

  /** (x - mean) / sqrt(variance + eps) * scale + shift, statistics already shaped [1, C, 1, ...]. */
  private normalise(x: Value, mean: Value, variance: Value, scale: Value, shift: Value, eps: number): Value {
    const g = this.g;
    const bshape = x.shape.map((d, i) => (i === 1 ? Number(d) : 1));
    const normed = g.div(g.sub(x, mean), g.sqrt(g.add(variance, eps)));
    return g.add(g.mul(normed, g.reshape(scale, bshape)), g.reshape(shift, bshape));
  }

  /**
   * Inverted dropout, active in training graphs only. The keep mask is a
   * counter-based hash of (seed, step, layer, element) (see dropout.ts): the
   * same seed and step give the same mask on every runtime, and a resumed run
   * repeats it exactly.
   */
  dropout(x: Value, rate: number): Value {
    if (this.kind !== 'training' || rate === 0) return x;
    if (!(rate > 0 && rate < 1)) throw new LossgraphError(`dropout rate must be in [0, 1), got ${rate}`);
    if (!this.rngInputs) throw new LossgraphError('dropout in a training graph needs the seed and step inputs');
    const g = this.g;
    const layer = this.dropoutCount++;
    const { seed, step } = this.rngInputs;
    const u = formsOf(g).dropoutMask === 'exact-float hash' ? keepUniformExactFloat(g, x, seed, step, layer) : keepUniformInt64(g, x, seed, step, layer);
    const keep = g.cast(g.greaterOrEqual(u, rate), this.dtype);
    return g.mul(x, g.mul(keep, 1 / (1 - rate)));
  }
}
