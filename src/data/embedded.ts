// The default data set, shipped in datasets/: an ordinal image task that needs
// no download. Real Fashion-MNIST images (the shipped subset) with one of six
// levels of Gaussian pixel noise added, deterministically per image; the
// label is the noise level. Neighbouring levels look alike and distant ones
// do not, so the classes are genuinely ordered, which is what ordinal losses
// (gaussian_kl, coral, corn) are for.
import { Rng } from '../models/random.ts';
import type { Dataset } from './dataset.ts';
import { loadIdxDataset } from './fashion.ts';
import { SHIPPED_FASHION_MNIST } from './idx.ts';

export const NOISE_LEVELS = [0, 0.06, 0.12, 0.18, 0.24, 0.3];

export function loadEmbedded(): Dataset {
  const base = loadIdxDataset(SHIPPED_FASHION_MNIST, 'idx');
  const px = base.shape[1] * base.shape[2];
  const images = new Float32Array(base.images.length);
  const labels = new Int32Array(base.count);
  // A fixed stream: the data set is the same on every machine and every run.
  const rng = new Rng(20240601);
  for (let i = 0; i < base.count; i++) {
    const level = rng.int(NOISE_LEVELS.length);
    labels[i] = level;
    const sigma = NOISE_LEVELS[level]!;
    for (let p = 0; p < px; p++) {
      const v = base.images[i * px + p]! + sigma * rng.normal();
      images[i * px + p] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return {
    source: 'embedded: Fashion-MNIST subset with 6 ordered noise levels',
    images,
    labels,
    count: base.count,
    shape: base.shape,
    classNames: NOISE_LEVELS.map((s) => `noise ${s}`),
    ordinal: { unit: 'noise level', values: NOISE_LEVELS.map((_, i) => i) },
    testFrom: base.testFrom,
    skipped: 0,
  };
}
