// A labelled image data set, decoded once: every loader produces one, and the
// driver batches from it. Its examples are in memory, or, above the memory
// limit, read from the disk cache as batches need them.
import { DataError } from '../errors.ts';
import { Rng } from '../models/random.ts';
import type { ExampleReader } from './cache.ts';

export interface Dataset {
  /** What was loaded, for reports: e.g. 'fashion-mnist:/usr/share/datasets/fashion-mnist'. */
  source: string;
  /** N x C x H x W, row-major, values in [0, 1] (or standardised features for CSV); empty when `reader` serves them. */
  images: Float32Array;
  /** Reads examples from the disk cache, for data sets larger than --max-memory. */
  reader?: ExampleReader;
  /** The decoded images came from the disk cache (nothing was decoded). */
  cached?: boolean;
  labels: Int32Array;
  count: number;
  shape: [number, number, number];
  classNames: string[];
  /** Named coarse levels (fine class -> group), for hierarchical losses and coarse accuracy. */
  hierarchy?: Record<string, number[]>;
  /** The groups' names at each level, where the data set has them (Fashion-MNIST's tops/footwear/…, pets' cat/dog). */
  hierarchyNames?: Record<string, string[]>;
  /** For ordinal data: the value each class stands for (ages in years, say) and its unit. */
  ordinal?: { unit: string; values: number[] };
  /**
   * [N, K] per-example targets: multi-hot labels (task 'multilabel') or
   * regression values (task 'regression'). `labels` then holds, for splits and
   * single-label terms, the first positive class (multi-label) or 0 (regression).
   */
  targets?: Float32Array;
  /** What is predicted: one class (default), several classes, or real values (classNames name the target columns). */
  task?: 'classification' | 'multilabel' | 'regression';
  /** A test split fixed by the data set itself (Fashion-MNIST's t10k). */
  testFrom?: number;
  /** Files skipped under --skip-bad. */
  skipped: number;
}

export interface Splits {
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
}

/**
 * Deterministic train / validation / test indices from `seed`. A data set
 * with its own test split keeps it; the rest is split 90/10 into train and
 * validation. Otherwise 80/10/10.
 */
/**
 * The largest of `values` (-Infinity for none), by a loop: Math.max(...values)
 * passes every value as an argument and overflows the call stack beyond about
 * 10^5 of them (a 200k-row CSV or IDX set crashed).
 */
export function maxOf(values: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! > m) m = values[i]!;
  return m;
}

/** Class labels run 0..K-1; a larger K is a column of identifiers, not of classes. */
export const MAX_CLASSES = 100_000;

export function splitDataset(d: Dataset, seed: number): Splits {
  const rng = new Rng(seed ^ 0x5eed);
  if (d.testFrom !== undefined) {
    const order = rng.permutation(d.testFrom);
    const nVal = Math.max(1, Math.round(d.testFrom * 0.1));
    return {
      validation: order.slice(0, nVal).sort(),
      train: order.slice(nVal).sort(),
      test: Int32Array.from({ length: d.count - d.testFrom }, (_, i) => d.testFrom! + i),
    };
  }
  if (d.count < 10) throw new DataError(`${d.source}: ${d.count} examples are too few to split into train, validation and test`);
  const order = rng.permutation(d.count);
  const nTest = Math.max(1, Math.round(d.count * 0.1));
  const nVal = Math.max(1, Math.round(d.count * 0.1));
  return {
    test: order.slice(0, nTest).sort(),
    validation: order.slice(nTest, nTest + nVal).sort(),
    train: order.slice(nTest + nVal).sort(),
  };
}

/** Example `i` of `d` into `into` (C*H*W floats), from memory or from the disk cache. */
export function readExample(d: Dataset, i: number, into: Float32Array): void {
  if (d.reader) d.reader.read(i, into);
  else {
    const size = into.length;
    into.set(d.images.subarray(i * size, (i + 1) * size));
  }
}
