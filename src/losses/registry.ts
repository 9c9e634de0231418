// Losses by name. The loss-spec language (weighted sums, arguments) builds on this.
import { LossgraphError } from '../errors.ts';
import { ce } from './ce.ts';
import type { LossDefinition } from './types.ts';

const LOSSES = new Map<string, LossDefinition>([[ce.name, ce]]);

export function knownLosses(): string[] {
  return [...LOSSES.keys()].sort();
}

/** The loss named by `spec`; an unknown name lists the known ones. */
export function lossFromSpec(spec: string): LossDefinition {
  const name = spec.trim();
  const loss = LOSSES.get(name);
  if (!loss) throw new LossgraphError(`unknown loss '${name}' in --spec; known losses: ${knownLosses().join(', ')}`);
  return loss;
}
