// Checking data targets where they enter (probe JSON, CSV columns, an image
// CSV's label sets): KL divergence needs each row to be a distribution,
// binary cross-entropy needs values in [0, 1]. Outside those the losses still
// compute a number (KL of a row that does not sum to 1 is not a divergence),
// so a bad row is refused with one line naming it rather than trained on.
import { LossgraphError } from '../errors.ts';
import type { LossSpec } from './loss_spec.ts';

/** Tolerance on a row's sum: float32 targets written with a few decimals. */
const SUM_TOLERANCE = 1e-3;

/** Throws one line naming the first row of `targets` ([rows, k], row-major) that `spec`'s terms cannot take. */
export function checkTargets(spec: LossSpec, targets: ArrayLike<number>, k: number, rowName: (row: number) => string): void {
  const rows = Math.floor(targets.length / k);
  const distribution = spec.targetRules.get('distribution');
  const probability = spec.targetRules.get('probability');
  if (!distribution && !probability) return;
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const v = targets[r * k + j]!;
      if (!Number.isFinite(v)) throw new LossgraphError(`${rowName(r)}: target ${j} is ${v}`);
      if (probability && (v < 0 || v > 1)) throw new LossgraphError(`${rowName(r)}: target ${j} is ${v}; '${probability}' needs targets in [0, 1]`);
      if (distribution && v < 0) throw new LossgraphError(`${rowName(r)}: target ${j} is ${v}; '${distribution}' needs non-negative targets (a distribution over the classes)`);
      sum += v;
    }
    if (distribution && Math.abs(sum - 1) > SUM_TOLERANCE) {
      throw new LossgraphError(`${rowName(r)}: the targets sum to ${Number(sum.toPrecision(6))}; '${distribution}' needs each row to be a distribution summing to 1`);
    }
  }
}
