// The graph builder: a Graph hands out typed Values, and every ONNX op is one
// method that records one node and infers its outputs' dtype and shape. The
// methods live by family: the core (naming, inputs, constants, emit,
// rewrites, serialisation) in core.ts, then elementwise, reductions and
// matrix products, shape and indexing ops, and the network layers' ops in
// ops/, each family a class on the one before; Graph is the last.
import { NetworkOps } from './ops/nn.ts';

export { Value, type IntsLike, type Node } from './core.ts';
export { IR_VERSION, OPSET, TARGETS, attr, sliceRange, windowAttrs, type Attr, type AveragePoolOptions, type ConvOptions, type ConvTransposeOptions, type PoolOptions, type Target } from './ir.ts';

export class Graph extends NetworkOps {}
