// Regenerates datasets/fashion-mnist-subset from the full Fashion-MNIST
// (Debian's dataset-fashion-mnist): the first 4000 training and the first 1000
// test images, with their labels. Run: node --import tsx scripts/make-fashion-subset.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SHIPPED_FASHION_MNIST, SYSTEM_FASHION_MNIST, encodeIdx, readIdx } from '../src/data/idx.ts';

const TAKE = { train: 4000, t10k: 1000 };
mkdirSync(SHIPPED_FASHION_MNIST, { recursive: true });
for (const [prefix, n] of Object.entries(TAKE)) {
  const img = readIdx(join(SYSTEM_FASHION_MNIST, `${prefix}-images-idx3-ubyte.gz`));
  const lbl = readIdx(join(SYSTEM_FASHION_MNIST, `${prefix}-labels-idx1-ubyte.gz`));
  const px = img.dims[1]! * img.dims[2]!;
  const write = (stem: string, bytes: Uint8Array) => writeFileSync(join(SHIPPED_FASHION_MNIST, `${stem}.gz`), gzipSync(bytes, { level: 9 }));
  write(`${prefix}-images-idx3-ubyte`, encodeIdx([n, img.dims[1]!, img.dims[2]!], img.data.subarray(0, n * px)));
  write(`${prefix}-labels-idx1-ubyte`, encodeIdx([n], lbl.data.subarray(0, n)));
}
console.log(`wrote ${SHIPPED_FASHION_MNIST}`);
