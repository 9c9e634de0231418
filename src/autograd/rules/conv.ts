// Conv (any groups, depthwise included) and ConvTranspose (groups = 1). Input
// gradients are Convs with the flipped kernel, grouped like the forward one
// (or, for small float32 maps on the CPU, ConvTranspose with the kernel as it
// is); weight gradients are patches times dy (one MatMul, per group).
import { registerGradient, type GradContext } from '../registry.ts';
import { nodeWindow } from '../../graph/attrs.ts';
import { convInputGradFor, convWeightGrad, groupedConvWeightGrad, staticSpatial, type WindowAttrs } from '../../graph/conv_forms.ts';
import { intAttr, refuse, stringAttr } from './util.ts';
import type { Value } from '../../graph/graph.ts';

function windowOf(ctx: Pick<GradContext, 'node'>, kernel: number[], groupsAllowed = false): WindowAttrs {
  const { node } = ctx;
  if (stringAttr(node, 'auto_pad', 'NOTSET') !== 'NOTSET') refuse(node, 'auto_pad is not supported; give explicit pads');
  if (!groupsAllowed && intAttr(node, 'group', 1) !== 1) refuse(node, 'groups other than 1 are not supported yet');
  return nodeWindow(node, kernel);
}

function staticShape(ctx: GradContext, v: Value): number[] {
  if (!v.shape.every((d) => typeof d === 'number')) refuse(ctx.node, `the kernel ${v} must have a static shape`);
  return v.shape as number[];
}

function biasGrad(ctx: GradContext): Value | undefined {
  const d = ctx.dy[0]!;
  return ctx.needs[2] ? ctx.g.reduceSum(d, [0, ...d.shape.slice(2).map((_, i) => 2 + i)], false) : undefined;
}

registerGradient('Conv', (ctx) => {
  const { g, x, dy, needs } = ctx;
  const wShape = staticShape(ctx, x[1]!);
  const a = windowOf(ctx, wShape.slice(2), true);
  const group = intAttr(ctx.node, 'group', 1);
  return [
    needs[0] ? convInputGradFor(g, dy[0]!, x[1]!, staticSpatial(x[0]!, 'Conv'), a, group) : undefined,
    needs[1] ? (group === 1 ? convWeightGrad(g, x[0]!, dy[0]!, wShape, a) : groupedConvWeightGrad(g, x[0]!, dy[0]!, wShape, a, group)) : undefined,
    biasGrad(ctx),
  ];
});

// ConvTranspose(., W) is the adjoint of Conv(., W): dx = Conv(dy, W), and dW is
// the Conv weight gradient with the roles of input and output swapped.
registerGradient('ConvTranspose', (ctx) => {
  const { g, x, dy, needs } = ctx;
  const wShape = staticShape(ctx, x[1]!);
  const a = windowOf(ctx, wShape.slice(2));
  return [
    needs[0] ? g.conv(dy[0]!, x[1]!, undefined, a) : undefined,
    needs[1] ? convWeightGrad(g, dy[0]!, x[0]!, wShape, a) : undefined,
    biasGrad(ctx),
  ];
});
