// What a loaded data set is, as one hash: its examples' pixels (or features),
// labels and targets, shape, class names, hierarchy, ordinal values and fixed
// test split. A grid's submitter and each worker load the data from the same
// --data settings; equal fingerprints mean they train on the same examples in
// the same order, whatever the paths, file dates or caches.
import { createHash } from 'node:crypto';
import { readExample, type Dataset } from './dataset.ts';

export function dataFingerprint(d: Dataset): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({
    count: d.count,
    shape: d.shape,
    classNames: d.classNames,
    hierarchy: d.hierarchy ?? null,
    ordinal: d.ordinal ?? null,
    task: d.task ?? 'classification',
    testFrom: d.testFrom ?? null,
  }));
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  h.update(bytes(d.labels));
  if (d.targets) h.update(bytes(d.targets));
  if (d.images.length === d.count * d.shape[0] * d.shape[1] * d.shape[2]) h.update(bytes(d.images));
  else {
    // Served from the disk cache: every example through the same reader training uses.
    const x = new Float32Array(d.shape[0] * d.shape[1] * d.shape[2]);
    for (let i = 0; i < d.count; i++) {
      readExample(d, i, x);
      h.update(bytes(x));
    }
  }
  return h.digest('hex').slice(0, 32);
}
