// Optimizers as ONNX update subgraphs. The learning rate and the step number
// are graph inputs; each optimizer's state tensors are carried like
// parameters (input `X`, output `X.updated`).
import { ArgumentError } from '../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';

export type OptimizerSpec =
  | { kind: 'sgd'; momentum: number; nesterov: boolean; weightDecay: number }
  | { kind: 'adamw'; beta1: number; beta2: number; eps: number; weightDecay: number };

export const DEFAULT_OPTIMIZERS: Record<OptimizerSpec['kind'], OptimizerSpec> = {
  sgd: { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 },
  adamw: { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
};

/** `sgd`, `adamw`, or with options: `sgd:momentum=0.9,nesterov=1,weight_decay=5e-4`, `adamw:weight_decay=0.05`. */
export function parseOptimizerSpec(text: string): OptimizerSpec {
  const [name, rest] = text.trim().split(':', 2) as [string, string | undefined];
  const base = DEFAULT_OPTIMIZERS[name as OptimizerSpec['kind']];
  if (!base) throw new ArgumentError(`optimizer '${name}' is not known; use sgd or adamw`);
  const out: Record<string, number | boolean | string> = { ...base };
  const keys: Record<string, string> = { momentum: 'momentum', nesterov: 'nesterov', weight_decay: 'weightDecay', beta1: 'beta1', beta2: 'beta2', eps: 'eps' };
  for (const part of rest ? rest.split(',') : []) {
    const [k, v] = part.split('=');
    const key = keys[k ?? ''];
    const num = Number(v);
    if (!key || !(key in base) || v === undefined || !Number.isFinite(num)) {
      throw new ArgumentError(`optimizer option '${part}' is not valid for ${name} (options: ${Object.keys(keys).filter((x) => keys[x]! in base).join(', ')})`);
    }
    out[key] = key === 'nesterov' ? num !== 0 : num;
  }
  return out as unknown as OptimizerSpec;
}

/** Names and shapes of the optimizer state for each parameter. */
export function optimizerState(spec: OptimizerSpec, params: readonly { name: string; shape: number[] }[]): { name: string; shape: number[] }[] {
  if (spec.kind === 'sgd') return spec.momentum > 0 ? params.map((p) => ({ name: `opt.${p.name}.velocity`, shape: p.shape })) : [];
  return params.flatMap((p) => [
    { name: `opt.${p.name}.m`, shape: p.shape },
    { name: `opt.${p.name}.v`, shape: p.shape },
  ]);
}

export interface UpdateInputs {
  params: readonly Value[];
  grads: readonly Value[];
  /** Optimizer state, in the order optimizerState lists it. */
  state: readonly Value[];
  lr: Value;
  /** The number of this step, counting from 1 (float32 scalar). */
  step: Value;
}

export interface UpdateOutputs {
  params: Value[];
  state: Value[];
}

/**
 * SGD (PyTorch's torch.optim.SGD): g += wd p; v = mu v + g; step = nesterov ? g + mu v : v; p -= lr step.
 * AdamW (PyTorch's torch.optim.AdamW): p -= lr wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *   p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
 */
export function optimizerUpdate(g: Graph, spec: OptimizerSpec, u: UpdateInputs): UpdateOutputs {
  return g.scope(spec.kind, () => {
    if (spec.kind === 'sgd') {
      const state: Value[] = [];
      const params = u.params.map((p, i) => {
        let grad = u.grads[i]!;
        if (spec.weightDecay) grad = g.add(grad, g.mul(p, spec.weightDecay));
        let step = grad;
        if (spec.momentum > 0) {
          const v = g.add(g.mul(u.state[i]!, spec.momentum), grad);
          state.push(v);
          step = spec.nesterov ? g.add(grad, g.mul(v, spec.momentum)) : v;
        }
        return g.sub(p, g.mul(u.lr, step));
      });
      return { params, state };
    }
    if (spec.kind !== 'adamw') throw new ArgumentError('unknown optimizer');
    const one = g.scalar(1);
    const correction1 = g.sub(one, g.pow(g.scalar(spec.beta1), u.step));
    const correction2 = g.sub(one, g.pow(g.scalar(spec.beta2), u.step));
    const state: Value[] = [];
    const params = u.params.map((p, i) => {
      const grad = u.grads[i]!;
      const m = g.add(g.mul(u.state[2 * i]!, spec.beta1), g.mul(grad, 1 - spec.beta1));
      const v = g.add(g.mul(u.state[2 * i + 1]!, spec.beta2), g.mul(g.mul(grad, grad), 1 - spec.beta2));
      state.push(m, v);
      const decayed = spec.weightDecay ? g.sub(p, g.mul(g.mul(u.lr, spec.weightDecay), p)) : p;
      const direction = g.div(g.div(m, correction1), g.add(g.sqrt(g.div(v, correction2)), spec.eps));
      return g.sub(decayed, g.mul(u.lr, direction));
    });
    return { params, state };
  });
}
