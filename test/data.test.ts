// Loaders on files the tests write themselves.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Jimp } from 'jimp';
import { LossgraphError } from '../src/errors.ts';
import { encodeIdx, readIdx, readIdxSplit } from '../src/data/idx.ts';
import { decodeImage } from '../src/data/image.ts';
import { loadCsv } from '../src/data/csv.ts';
import { loadIdxDataset } from '../src/data/fashion.ts';
import { gatherExamples, range, shuffledBatches } from '../src/data/batches.ts';
import type { Dataset } from '../src/data/dataset.ts';
import { Rng } from '../src/models/random.ts';

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
});

test('batches: rows gathered, shuffled by seed, partial batch dropped, augmentation shifts and flips', () => {
  const d: Dataset = {
    source: 'test',
    images: Float32Array.from({ length: 3 * 4 }, (_, i) => i),
    labels: Int32Array.from([4, 0, 9]),
    count: 3,
    shape: [1, 2, 2],
    classNames: [],
    skipped: 0,
  };
  const b = gatherExamples(d, [2, 0]);
  assert.deepEqual(Array.from(b.labels), [9n, 4n]);
  assert.deepEqual(Array.from(b.images), [8, 9, 10, 11, 0, 1, 2, 3]);
  assert.equal([...shuffledBatches(d, range(3), 2, 1)].length, 1, 'the trailing partial batch is dropped');
  const order = (seed: number) => [...shuffledBatches(d, range(3), 1, seed)].map((x) => x.labels[0]);
  assert.deepEqual(order(5), order(5));
  // A flip-only augmentation mirrors rows; with a fixed rng the choice is reproducible.
  const flips = [0, 1, 2, 3, 4, 5, 6, 7].map((seed) => Array.from(gatherExamples(d, [0], { crop: 0, flip: true }, new Rng(seed)).images));
  assert.ok(flips.some((x) => x.join() === '1,0,3,2') && flips.some((x) => x.join() === '0,1,2,3'));
  const shifted = gatherExamples(d, [0], { crop: 1, flip: false }, new Rng(3)).images;
  assert.ok(Array.from(shifted).every((v) => [0, 1, 2, 3].includes(v)), 'shifted pixels come from the image or the zero padding');
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

test('PNGs: short pixel data is refused every time, never decoded from uninitialised memory; every colour type, depth and interlacing that is whole decodes (issue 27 item 5)', async () => {
  const { makePng } = await import('./helpers/png.ts');
  const d = dir();
  const size = { width: 4, height: 4, channels: 3 } as const;
  const short = join(d, 'short.png');
  writeFileSync(short, makePng({ width: 8, height: 8, keepBytes: 50 }));
  const outcomes = new Set<string>();
  for (let i = 0; i < 30; i++) outcomes.add(await decodeImage(short, size).then(() => 'decoded', (e: Error) => e.message));
  assert.deepEqual([...outcomes], [`${short}: the PNG is truncated (its pixel data holds 50 of the 200 bytes its header promises)`]);
  // Interlaced data one byte short of its seven passes is refused too (9 x 7 RGB: 203 bytes over the
  // seven passes; that whole interlaced images decode, below, checks the count against jimp's decoder).
  await assert.rejects(decodeImage(makePng({ width: 9, height: 7, interlaced: true, keepBytes: 202 }), size), /holds 202 of the 203 bytes/);
  for (const o of [{ colorType: 0, bitDepth: 1 }, { colorType: 0, bitDepth: 16 }, { colorType: 2, bitDepth: 16 }, { colorType: 3, bitDepth: 4 }, { colorType: 4, bitDepth: 8 }, { colorType: 6, bitDepth: 8 }, { colorType: 6, bitDepth: 8, interlaced: true }, { colorType: 0, bitDepth: 2, interlaced: true }] as const) {
    const x = await decodeImage(makePng({ width: 9, height: 7, ...o }), size);
    assert.equal(x.length, 48, JSON.stringify(o));
  }
  // The budget is read from the header, before anything is allocated for pixels.
  const before = process.memoryUsage().rss;
  await assert.rejects(decodeImage(makePng({ width: 60000, height: 60000, keepBytes: 0 }), size), /60000x60000 is 3600 megapixels; images above 100 megapixels are refused/);
  assert.ok(process.memoryUsage().rss - before < 200e6);
});

test('CSV headers: a UTF-8 byte-order mark does not hide the first column, a name given twice is refused, an identifier column is not taken for 4 billion classes (issue 27 items 6, 21)', () => {
  const d = dir();
  const bom = join(d, 'bom.csv');
  writeFileSync(bom, '\ufefflabel,x,y\n0,1.5,2\n1,0.5,7\n0,2.5,1\n');
  const data = loadCsv(bom);
  assert.deepEqual(data.classNames, ['0', '1']);
  assert.deepEqual(Array.from(data.labels), [0, 1, 0]);
  assert.deepEqual(data.shape, [1, 1, 2]);
  const twice = join(d, 'twice.csv');
  writeFileSync(twice, 'label,x,label\n0,1,1\n1,2,0\n');
  assert.throws(() => loadCsv(twice), /twice\.csv: columns 1 and 3 are both named 'label'; column names must differ$/);
  const ids = join(d, 'ids.csv');
  writeFileSync(ids, 'x,label\n1,0\n2,4294967296\n');
  assert.throws(() => loadCsv(ids), /ids\.csv:3: label 4294967296 in column 'label' would make 4294967296 \+ 1 classes \(at most 100000\)/);
});

test('a million CSV rows and a million IDX images load: nothing spreads a whole column into one call (issue 27 item 15)', () => {
  const d = dir();
  const n = 1_000_000;
  const csv = join(d, 'big.csv');
  const lines = ['a,b,label'];
  for (let i = 0; i < n; i++) lines.push(`${i % 7},${i % 11},${i % 3}`);
  writeFileSync(csv, `${lines.join('\n')}\n`);
  const table = loadCsv(csv);
  assert.equal(table.count, n);
  assert.deepEqual(table.classNames, ['0', '1', '2']);
  const idx = join(d, 'idx');
  mkdirSync(idx);
  const images = (m: number) => { const h = Buffer.alloc(16); h.writeUInt32BE(0x803, 0); h.writeUInt32BE(m, 4); h.writeUInt32BE(1, 8); h.writeUInt32BE(1, 12); return Buffer.concat([h, Buffer.alloc(m)]); };
  const labels = (m: number) => { const h = Buffer.alloc(8); h.writeUInt32BE(0x801, 0); h.writeUInt32BE(m, 4); return Buffer.concat([h, Buffer.from(Array.from({ length: m }, (_, i) => i % 10))]); };
  writeFileSync(join(idx, 'train-images-idx3-ubyte'), images(n));
  writeFileSync(join(idx, 'train-labels-idx1-ubyte'), labels(n));
  writeFileSync(join(idx, 't10k-images-idx3-ubyte'), images(10));
  writeFileSync(join(idx, 't10k-labels-idx1-ubyte'), labels(10));
  const set = loadIdxDataset(idx, 'idx');
  assert.equal(set.count, n + 10);
  assert.equal(set.classNames.length, 10);
});
