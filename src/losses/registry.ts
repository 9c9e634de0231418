// Every loss by name.
import { LossgraphError } from '../errors.ts';
import { bce } from './bce.ts';
import { ce } from './ce.ts';
import { focal } from './focal.ts';
import { gaussianKl } from './gaussian_kl.ts';
import { hierarchical } from './hierarchical.ts';
import { kl } from './kl.ts';
import { labelSmoothing } from './label_smoothing.ts';
import { minmax } from './minmax.ts';
import { coral, corn } from './ordinal.ts';
import { l1, mse } from './regression.ts';
import { sparseLsr } from './sparse_lsr.ts';
import type { LossDefinition } from './types.ts';

const LOSSES = new Map<string, LossDefinition>(
  [ce, labelSmoothing, sparseLsr, focal, kl, gaussianKl, hierarchical, minmax, mse, l1, bce, coral, corn].map((l) => [l.name, l]),
);

export function knownLosses(): string[] {
  return [...LOSSES.keys()].sort();
}

export function isLoss(name: string): boolean {
  return LOSSES.has(name);
}

export function lossDefinition(name: string): LossDefinition {
  const loss = LOSSES.get(name);
  if (!loss) throw new LossgraphError(`unknown loss '${name}'; known losses: ${knownLosses().join(', ')}`);
  return loss;
}
