// Fashion-MNIST and other MNIST-style IDX data sets.
import { DataError } from '../errors.ts';
import { MAX_CLASSES, maxOf, type Dataset } from './dataset.ts';
import { readIdxSplit } from './idx.ts';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/**
 * Fashion-MNIST's coarse level: tops (T-shirt/top, pullover, coat, shirt),
 * footwear (sandal, sneaker, ankle boot), and trouser, dress and bag each on
 * their own.
 */
export const FASHION_MNIST_COARSE = { names: ['tops', 'footwear', 'trouser', 'dress', 'bag'], groups: [0, 2, 0, 3, 0, 1, 0, 1, 4, 1] };

/** `train-*` and `t10k-*` IDX files from `dir`; the t10k part becomes the test split. */
export function loadIdxDataset(dir: string, kind: 'fashion-mnist' | 'idx'): Dataset {
  const train = readIdxSplit(dir, 'train');
  const test = readIdxSplit(dir, 't10k');
  if (train.rows !== test.rows || train.cols !== test.cols) throw new DataError(`${dir}: train and t10k images differ in size`);
  if (train.count === 0) throw new DataError(`${dir}: the train images file holds 0 images`);
  const count = train.count + test.count;
  const images = new Float32Array(count * train.rows * train.cols);
  images.set(train.images);
  images.set(test.images, train.images.length);
  const labels = new Int32Array(count);
  labels.set(train.labels);
  labels.set(test.labels, train.count);
  const classes = maxOf(labels) + 1;
  if (classes > MAX_CLASSES) throw new DataError(`${dir}: labels go up to ${classes - 1}; class labels are 0..K-1 with K at most ${MAX_CLASSES}`);
  const fashion = kind === 'fashion-mnist';
  if (fashion && classes > 10) throw new DataError(`${dir}: labels go up to ${classes - 1}, Fashion-MNIST has 10 classes`);
  return {
    source: `${kind}:${dir}`,
    images,
    labels,
    count,
    shape: [1, train.rows, train.cols],
    classNames: fashion ? FASHION_MNIST_CLASSES : Array.from({ length: classes }, (_, i) => String(i)),
    hierarchy: fashion ? { coarse: FASHION_MNIST_COARSE.groups } : undefined,
    hierarchyNames: fashion ? { coarse: FASHION_MNIST_COARSE.names } : undefined,
    testFrom: train.count,
    skipped: 0,
  };
}
