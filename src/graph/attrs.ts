// Reading a node's attributes, for code that rewrites or differentiates nodes.
import { fullWindow, type WindowAttrs } from './conv_forms.ts';
import type { Node } from './graph.ts';

export function intAttr(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  return a && a.kind === 'int' ? a.value : dflt;
}

export function intsAttr(node: Node, name: string): number[] | undefined {
  const a = node.attrs[name];
  return a && a.kind === 'ints' ? [...a.value] : undefined;
}

export function floatAttr(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  return a && a.kind === 'float' ? a.value : dflt;
}

export function stringAttr(node: Node, name: string, dflt: string): string {
  const a = node.attrs[name];
  return a && a.kind === 'string' ? a.value : dflt;
}

/** Strides, pads and dilations of a Conv, ConvTranspose or pooling node, defaults filled in. */
export function nodeWindow(node: Node, kernel: number[]): WindowAttrs {
  return fullWindow(kernel, { strides: intsAttr(node, 'strides'), pads: intsAttr(node, 'pads'), dilations: intsAttr(node, 'dilations') });
}
