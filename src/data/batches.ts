// Mini-batches from an in-memory Dataset: examples copied row by row, with
// optional random-crop and flip augmentation, in orders fixed by seeds.
import type { TrainBatch } from '../runtime/training.ts';
import { Rng } from '../models/random.ts';
import { readExample, type Dataset } from './dataset.ts';

export interface Augment {
  /** Pixels of random shift (crop of the zero-padded image); 0 disables it. */
  crop: number;
  /** Random horizontal flips. */
  flip: boolean;
}

/** Examples `indices` of `d` as one batch, optionally augmented from `rng`. */
export function gatherExamples(d: Dataset, indices: ArrayLike<number>, augment?: Augment, rng?: Rng): TrainBatch {
  const [c, h, w] = d.shape;
  const size = c * h * w;
  const images = new Float32Array(indices.length * size);
  const labels = new BigInt64Array(indices.length);
  const k = d.classNames.length;
  const targets = d.targets ? new Float32Array(indices.length * k) : undefined;
  const scratch = d.reader ? new Float32Array(size) : undefined;
  for (let i = 0; i < indices.length; i++) {
    let src: Float32Array;
    if (scratch) {
      readExample(d, indices[i]!, scratch);
      src = scratch;
    } else src = d.images.subarray(indices[i]! * size, (indices[i]! + 1) * size);
    labels[i] = BigInt(d.labels[indices[i]!]!);
    targets?.set(d.targets!.subarray(indices[i]! * k, (indices[i]! + 1) * k), i * k);
    if (!augment || !rng || (augment.crop === 0 && !augment.flip)) {
      images.set(src, i * size);
      continue;
    }
    const dy = augment.crop ? rng.int(2 * augment.crop + 1) - augment.crop : 0;
    const dx = augment.crop ? rng.int(2 * augment.crop + 1) - augment.crop : 0;
    const flip = augment.flip && rng.next() < 0.5;
    const dst = images.subarray(i * size, (i + 1) * size);
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        const sy = y + dy;
        if (sy < 0 || sy >= h) continue;
        for (let x = 0; x < w; x++) {
          const sx = (flip ? w - 1 - x : x) + dx;
          if (sx >= 0 && sx < w) dst[ch * h * w + y * w + x] = src[ch * h * w + sy * w + sx]!;
        }
      }
    }
  }
  return { images, labels, targets, indices: Int32Array.from(indices) };
}

/**
 * Full batches over `indices` in a fresh order for each `seed` (a trailing
 * partial batch is dropped, so every step sees the same batch size).
 */
export function* shuffledBatches(d: Dataset, indices: Int32Array, batchSize: number, seed: number, augment?: Augment): Generator<TrainBatch> {
  const order = new Rng(seed).permutation(indices.length);
  const augmentRng = new Rng(seed ^ 0x9e3779b9);
  for (let start = 0; start + batchSize <= indices.length; start += batchSize) {
    yield gatherExamples(d, Int32Array.from(order.subarray(start, start + batchSize), (i) => indices[i]!), augment, augmentRng);
  }
}

/** Indices 0..n-1. */
export function range(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/**
 * Batch `step` of a fixed cycle over a handful of labelled examples: examples
 * (step * batch + i) mod N. The page's fine-tuning uses it, so Node can repeat
 * the page's batches exactly.
 */
export function cyclicBatch(images: Float32Array, labels: Int32Array, step: number, batch: number): TrainBatch {
  const n = labels.length;
  const size = images.length / n;
  const out = new Float32Array(batch * size);
  const y = new BigInt64Array(batch);
  for (let i = 0; i < batch; i++) {
    const e = (step * batch + i) % n;
    out.set(images.subarray(e * size, (e + 1) * size), i * size);
    y[i] = BigInt(labels[e]!);
  }
  return { images: out, labels: y };
}
