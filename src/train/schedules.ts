// What changes from epoch to epoch without rebuilding a graph: the learning
// rate (constant, cosine, step) and the sigma of the ordinal Gaussian-KL loss
// (decayed per epoch), both fed to the training graph as inputs.
import type { Manifest } from '../artifacts/contract.ts';
import { LossgraphError } from '../errors.ts';
import { sigmaAtEpoch } from '../losses/gaussian_kl.ts';
import type { TrainingSession } from '../runtime/training.ts';
import type { RunConfig } from './config.ts';

/** The hyperparameters the sigma schedule drives: those the loss marks as such. */
function sigmaInputs(m: Manifest): { name: string; default: number }[] {
  return m.hyperparameters.filter((h) => h.schedule === 'sigma');
}

/** Checks that --sigma-decay can drive every sigma of the loss, before anything is written. */
export function checkSigmaSchedule(m: Manifest, config: RunConfig): void {
  if (config.sigmaDecay === undefined) return;
  if (!(config.sigmaDecay > 0 && config.sigmaDecay <= 1)) throw new LossgraphError(`--sigma-decay must be in (0, 1], got ${config.sigmaDecay}`);
  if (!(config.sigmaMin > 0) || !Number.isFinite(config.sigmaMin)) {
    throw new LossgraphError(`--sigma-min must be > 0 (sigma is a standard deviation; the loss is defined for sigma > 0), got ${config.sigmaMin}`);
  }
  const unreachable = (m.unscheduled ?? []).filter((u) => u.schedule === 'sigma');
  if (unreachable.length) {
    throw new LossgraphError(`--sigma-decay cannot drive ${unreachable[0]!.where}: give sigma as a number or as one parameter used nowhere else, e.g. gaussian_kl(sigma=2)`);
  }
  if (sigmaInputs(m).length === 0) throw new LossgraphError(`--sigma-decay needs a loss with a sigma (gaussian_kl); '${m.spec.loss}' has none`);
}

/** Feeds every sigma its value for `epoch` under the run's decay; returns it (undefined without decay). */
export function applySigmaSchedule(session: TrainingSession, config: RunConfig, epoch: number): number | undefined {
  if (config.sigmaDecay === undefined) return undefined;
  let sigma: number | undefined;
  for (const s of sigmaInputs(session.manifest)) {
    sigma = sigmaAtEpoch(epoch, { sigma0: s.default, gamma: config.sigmaDecay, sigmaMin: config.sigmaMin, of: config.sigmaDecayOf });
    session.setHyperparameter(s.name, sigma);
  }
  return sigma;
}

export function learningRate(c: RunConfig, epoch: number, step: number, stepsPerEpoch: number): number {
  if (c.lrSchedule === 'cosine') return 0.5 * c.lr * (1 + Math.cos((Math.PI * step) / (c.epochs * stepsPerEpoch)));
  if (c.lrSchedule === 'step') return c.lr * c.stepGamma ** Math.floor(epoch / c.stepEvery);
  return c.lr;
}
