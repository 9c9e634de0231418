// Every choice of node form that depends on the target, in one table: what
// differs between the CPU, WebGPU and CUDA graphs of the same model and loss,
// and why. Layers, losses and gradient rules read their row through
// formsOf(g) rather than testing the target themselves, so a new target (or a
// provider that gains a kernel) is one column here.
import type { Target } from './ir.ts';

export interface TargetForms {
  /** Labels, step and seed: WebGPU has int32 but no int64 kernels for the ops they go through (Equal, Where, Gather, ...). */
  intType: 'int64' | 'int32';
  /** Several values added up (gradient fan-out, the global gradient norm): WebGPU has no Sum kernel. */
  sum: 'one Sum' | 'chain of Adds';
  /** The seed gradient of a statically shaped loss: WebGPU leaves a ConstantOfShape of a computed shape on the CPU. */
  gradientSeed: 'ConstantOfShape' | 'constant';
  /** log-softmax over the classes: WebGPU has no LogSoftmax kernel. */
  logSoftmax: 'LogSoftmax' | 'x - logsumexp';
  /**
   * The element count of symbolic axes (means, variances): int64 shape
   * arithmetic, which WebGPU lacks and CUDA's int64 ReduceProd too; the CUDA
   * form multiplies the dims as floats, WebGPU counts ones.
   */
  elementCount: 'int64 ReduceProd' | 'float ReduceProd' | 'sum of ones';
  /** Dropout's per-element index count: CUDA has no int64 ReduceProd; Size is the same number. */
  dropoutCount: 'ReduceProd of the shape' | 'Size';
  /** Dropout's keep mask: an int64 hash, or one in exact float32 arithmetic (WebGPU has no int64 kernels; the seed must lie within ±2^24). */
  dropoutMask: 'int64 hash' | 'exact-float hash';
  /** Training-mode batch norm: one BatchNormalization node with its closed-form gradient, or batch statistics by reductions (WebGPU). CUDA's is lowered after autodiff (see lowerAfterAutodiff). */
  batchNormTraining: 'BatchNormalization' | 'reductions';
  /** Eval-mode batch norm: one node, or the elementwise form every provider runs. */
  batchNormEval: 'BatchNormalization' | 'elementwise';
  /** Max pooling in a training graph: along columns then rows (its gradient routed by comparison; faster on the CPU than MaxPool's indices), or one MaxPool whose gradient compares window slots (WebGPU has no MaxPool with indices). */
  maxPoolTraining: 'columns then rows' | 'one MaxPool, window slots';
  /** A wide sum over leading axes (unbroadcasting a gradient): a ones row times the values (several times faster than ReduceSum on ORT's CPU), or ReduceSum (WebGPU). */
  wideSums: 'MatMul with a ones row' | 'ReduceSum';
  /** Conv gradients: where the shapes favour them, one GEMM over batch and positions or a ConvTranspose (measured on the CPU provider only), or always the plain forms. */
  convGradients: 'chosen by shape' | 'plain';
  /** Rewrites applied after autodiff (cuda_forms.ts): CUDA's BatchNormalization refuses training mode at opset ≥ 14. */
  lowerAfterAutodiff: boolean;
}

export const FORMS: Readonly<Record<Target, Readonly<TargetForms>>> = {
  cpu: {
    intType: 'int64',
    sum: 'one Sum',
    gradientSeed: 'ConstantOfShape',
    logSoftmax: 'LogSoftmax',
    elementCount: 'int64 ReduceProd',
    dropoutCount: 'ReduceProd of the shape',
    dropoutMask: 'int64 hash',
    batchNormTraining: 'BatchNormalization',
    batchNormEval: 'BatchNormalization',
    maxPoolTraining: 'columns then rows',
    wideSums: 'MatMul with a ones row',
    convGradients: 'chosen by shape',
    lowerAfterAutodiff: false,
  },
  webgpu: {
    intType: 'int32',
    sum: 'chain of Adds',
    gradientSeed: 'constant',
    logSoftmax: 'x - logsumexp',
    elementCount: 'sum of ones',
    dropoutCount: 'ReduceProd of the shape',
    dropoutMask: 'exact-float hash',
    batchNormTraining: 'reductions',
    batchNormEval: 'elementwise',
    maxPoolTraining: 'one MaxPool, window slots',
    wideSums: 'ReduceSum',
    convGradients: 'plain',
    lowerAfterAutodiff: false,
  },
  cuda: {
    intType: 'int64',
    sum: 'one Sum',
    gradientSeed: 'ConstantOfShape',
    logSoftmax: 'LogSoftmax',
    elementCount: 'float ReduceProd',
    dropoutCount: 'Size',
    dropoutMask: 'int64 hash',
    batchNormTraining: 'BatchNormalization',
    batchNormEval: 'BatchNormalization',
    maxPoolTraining: 'columns then rows',
    wideSums: 'MatMul with a ones row',
    convGradients: 'plain',
    lowerAfterAutodiff: true,
  },
};

/** The node forms of the graph's target. */
export function formsOf(g: { readonly target: Target }): Readonly<TargetForms> {
  return FORMS[g.target];
}
