// Loaders on files the tests write themselves.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Jimp } from 'jimp';
import { LossgraphError } from '../src/errors.ts';
import { encodeIdx, readIdx, readIdxSplit } from '../src/data/idx.ts';
import { decodeImage } from '../src/data/image.ts';
import { gatherBatch, shuffledBatches } from '../src/data/batches.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'lossgraph-data-'));

test('IDX round trip, gzipped, as an image split', () => {
  const d = dir();
  const pixels = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);
  writeFileSync(join(d, 'train-images-idx3-ubyte.gz'), gzipSync(encodeIdx([3, 2, 2], pixels)));
  writeFileSync(join(d, 'train-labels-idx1-ubyte'), encodeIdx([3], Uint8Array.from([4, 0, 9])));
  const split = readIdxSplit(d, 'train');
  assert.equal(split.count, 3);
  assert.deepEqual([split.rows, split.cols], [2, 2]);
  assert.deepEqual(Array.from(split.labels), [4, 0, 9]);
  assert.ok(Math.abs(split.images[5]! - 100 / 255) < 1e-7);
  const b = gatherBatch(split, [2, 0]);
  assert.deepEqual(Array.from(b.labels), [9n, 4n]);
  assert.ok(Math.abs(b.images[0]! - 160 / 255) < 1e-7);
  const batches = [...shuffledBatches(split, 2, 1)];
  assert.equal(batches.length, 1, 'the trailing partial batch is dropped');
  assert.deepEqual([...shuffledBatches(split, 1, 5)].map((x) => x.labels[0]), [...shuffledBatches(split, 1, 5)].map((x) => x.labels[0]));
});

test('bad IDX files are named in one line', () => {
  const d = dir();
  const trunc = join(d, 'trunc');
  writeFileSync(trunc, encodeIdx([5, 2, 2], new Uint8Array(20)).subarray(0, 25));
  assert.throws(() => readIdx(trunc), (e: Error) => e instanceof LossgraphError && e.message === `${trunc}: IDX header promises 20 values, file holds 9`);
  const notIdx = join(d, 'text');
  writeFileSync(notIdx, 'hello world');
  assert.throws(() => readIdx(notIdx), /not an IDX file/);
  const badGz = join(d, 'bad.gz');
  writeFileSync(badGz, Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  assert.throws(() => readIdx(badGz), /corrupt gzip data/);
  assert.throws(() => readIdxSplit(d, 'train'), /train-images-idx3-ubyte.gz: no such file/);
});

test('images decode with jimp to CHW floats, resized; corrupt files are named', async () => {
  const d = dir();
  const img = new Jimp({ width: 4, height: 2, color: 0xff0000ff });
  img.setPixelColor(0x0000ffff, 3, 1);
  const png = join(d, 'red.png');
  writeFileSync(png, await img.getBuffer('image/png'));
  const rgb = await decodeImage(png, { width: 4, height: 2, channels: 3 });
  assert.equal(rgb.length, 24);
  assert.equal(rgb[0], 1); // red plane, pixel 0
  assert.equal(rgb[8], 0); // green plane
  assert.equal(rgb[16 + 7], 1); // blue plane, pixel (3, 1)
  const gray = await decodeImage(png, { width: 2, height: 1, channels: 1 });
  assert.equal(gray.length, 2);
  const jpg = join(d, 'photo.jpg');
  writeFileSync(jpg, await new Jimp({ width: 8, height: 8, color: 0x808080ff }).getBuffer('image/jpeg'));
  const g = await decodeImage(jpg, { width: 8, height: 8, channels: 1 });
  assert.ok(Math.abs(g[0]! - 128 / 255) < 0.02);
  const broken = join(d, 'broken.jpg');
  writeFileSync(broken, Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x01]));
  await assert.rejects(decodeImage(broken, { width: 8, height: 8, channels: 1 }), (e: Error) => e instanceof LossgraphError && e.message.startsWith(`${broken}: cannot decode image`) && !e.message.includes('\n'));
});
