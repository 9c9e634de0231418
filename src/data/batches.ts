// Mini-batches from an in-memory split, in an order fixed by a seed.
import { Rng } from '../models/random.ts';
import type { ImageSplit } from './idx.ts';

export interface Batch {
  images: Float32Array;
  labels: BigInt64Array;
  size: number;
}

/** Copies the rows `indices` of `split` into one batch (row copies, not per-pixel work). */
export function gatherBatch(split: ImageSplit, indices: ArrayLike<number>): Batch {
  const px = split.rows * split.cols;
  const images = new Float32Array(indices.length * px);
  const labels = new BigInt64Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    images.set(split.images.subarray(r * px, (r + 1) * px), i * px);
    labels[i] = BigInt(split.labels[r]!);
  }
  return { images, labels, size: indices.length };
}

/** Full batches of a fresh permutation per epoch (a trailing partial batch is dropped). */
export function* shuffledBatches(split: ImageSplit, batchSize: number, seed: number): Generator<Batch> {
  const order = new Rng(seed).permutation(split.count);
  for (let start = 0; start + batchSize <= split.count; start += batchSize) {
    yield gatherBatch(split, order.subarray(start, start + batchSize));
  }
}
