// Every --data form on small files the test writes itself, and each bad-input case.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Jimp } from 'jimp';
import { splitDataset } from '../src/data/dataset.ts';
import { encodeIdx, SHIPPED_FASHION_MNIST } from '../src/data/idx.ts';
import { loadData } from '../src/data/index.ts';
import { LossgraphError } from '../src/errors.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'lossgraph-load-'));

async function writeImage(path: string, color: number, mime: 'image/png' | 'image/jpeg' = 'image/jpeg') {
  writeFileSync(path, await new Jimp({ width: 10, height: 8, color }).getBuffer(mime));
}

async function rejects(p: Promise<unknown>, message: RegExp) {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof LossgraphError, String(e));
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, message);
    return true;
  });
}

test('folder: one sub-folder per class, resized, RGB or grayscale', async () => {
  const dir = tmp();
  for (const [cls, color] of [['cat', 0xff0000ff], ['dog', 0x0000ffff]] as const) {
    mkdirSync(join(dir, cls));
    for (let i = 0; i < 3; i++) await writeImage(join(dir, cls, `${i}.jpg`), color);
  }
  writeFileSync(join(dir, 'dog', 'notes.txt'), 'not an image, ignored');
  const d = await loadData(`folder:${dir}`, { imageSize: [3, 4, 4] });
  assert.deepEqual(d.classNames, ['cat', 'dog']);
  assert.deepEqual(Array.from(d.labels), [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(d.shape, [3, 4, 4]);
  assert.equal(d.images.length, 6 * 48);
  assert.ok(d.images[0]! > 0.9 && d.images[16]! < 0.1, 'cat images are red');
  const gray = await loadData(`folder:${dir}`, { imageSize: [1, 2, 2] });
  assert.equal(gray.images.length, 6 * 4);
});

test('folder: a corrupt image is named, or skipped and counted; empty folders are named', async () => {
  const dir = tmp();
  for (const cls of ['a', 'b']) {
    mkdirSync(join(dir, cls));
    await writeImage(join(dir, cls, 'ok.png'), 0x808080ff, 'image/png');
  }
  writeFileSync(join(dir, 'b', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0x00]));
  await rejects(loadData(`folder:${dir}`), /b\/broken\.jpg: cannot decode image .*\(use --skip-bad to skip such files\)/);
  const d = await loadData(`folder:${dir}`, { skipBad: true });
  assert.equal(d.skipped, 1);
  assert.equal(d.count, 2);
  mkdirSync(join(dir, 'c'));
  await rejects(loadData(`folder:${dir}`), /c: class folder holds no images/);
  await rejects(loadData(`folder:${join(dir, 'missing')}`), /missing: no such folder/);
  const single = tmp();
  mkdirSync(join(single, 'only'));
  await rejects(loadData(`folder:${single}`), /expected one sub-folder per class, found 1/);
});

test('utkface: ages from file names become ordinal classes with configurable bins', async () => {
  const dir = tmp();
  const names = ['3_0_0_20170110.jpg.chip.jpg', '25_1_2_20170116.jpg.chip.jpg', '61_0_20170109.jpg', '99_1_3_20170120.jpg'];
  for (const n of names) await writeImage(join(dir, n), 0x336699ff);
  const perYear = await loadData(`utkface:${dir}`, { imageSize: [3, 8, 8] });
  // Files load in sorted name order: 25_..., 3_..., 61_..., 99_...
  assert.deepEqual(Array.from(perYear.labels), [25, 3, 61, 99]);
  assert.equal(perYear.classNames.length, 101);
  assert.deepEqual([perYear.classNames[99], perYear.classNames[100]], ['99', '100+']);
  assert.equal(perYear.ordinal?.unit, 'years');
  const binned = await loadData(`utkface:${dir}`, { imageSize: [3, 8, 8], ageBins: { width: 10, cap: 60 } });
  assert.deepEqual(Array.from(binned.labels), [2, 0, 6, 6]);
  assert.deepEqual(binned.classNames, ['0-9', '10-19', '20-29', '30-39', '40-49', '50-59', '60+']);
  assert.deepEqual(binned.ordinal?.values, [4.5, 14.5, 24.5, 34.5, 44.5, 54.5, 64.5]);
  await writeImage(join(dir, 'selfie.jpg'), 0x000000ff);
  await rejects(loadData(`utkface:${dir}`), /selfie\.jpg: not a UTKFace file name \(age_gender_race_date\.jpg\)/);
  assert.equal((await loadData(`utkface:${dir}`, { skipBad: true })).skipped, 1);
  await rejects(loadData(`utkface:${tmp()}`), /no images named like UTKFace file name \(age_gender_race_date\.jpg\) found/);
});

test('pets: breeds are classes, capitalised breeds are cats (the species level)', async () => {
  const dir = tmp();
  for (const n of ['Abyssinian_1.jpg', 'Abyssinian_2.jpg', 'beagle_10.jpg', 'great_pyrenees_3.jpg', 'Maine_Coon_7.jpg']) await writeImage(join(dir, n), 0x884422ff);
  const d = await loadData(`pets:${dir}`, { imageSize: [3, 6, 6] });
  assert.deepEqual(d.classNames, ['Abyssinian', 'Maine_Coon', 'beagle', 'great_pyrenees']);
  // Sorted file order: Abyssinian_1, Abyssinian_2, Maine_Coon_7, beagle_10, great_pyrenees_3.
  assert.deepEqual(Array.from(d.labels), [0, 0, 1, 2, 3]);
  assert.deepEqual(d.hierarchy, { species: [0, 0, 1, 1] });
  writeFileSync(join(dir, 'README.png'), Buffer.from('x'));
  await rejects(loadData(`pets:${dir}`), /README\.png: not an Oxford-IIIT Pet file name/);
});

test('csv: features standardised, labels by name or number; bad cells are named with the line', async () => {
  const dir = tmp();
  const file = join(dir, 'iris.csv');
  writeFileSync(file, 'a,b,species\n1,10,setosa\n2,20,virginica\n3,30,setosa\n4,40,versicolor\n');
  const d = await loadData(`csv:${file}`, { labelColumn: 'species' });
  assert.deepEqual(d.classNames, ['setosa', 'versicolor', 'virginica']);
  assert.deepEqual(Array.from(d.labels), [0, 2, 0, 1]);
  assert.deepEqual(d.shape, [1, 1, 2]);
  const col0 = [0, 2, 4, 6].map((i) => d.images[i]!);
  assert.ok(Math.abs(col0.reduce((x, y) => x + y) / 4) < 1e-6, 'zero mean');
  writeFileSync(file, 'x,label\n1,0\n2,1\n');
  assert.deepEqual(Array.from((await loadData(`csv:${file}`)).labels), [0, 1]);
  writeFileSync(file, 'x,y,label\n1,2,0\n3,oops,1\n');
  await rejects(loadData(`csv:${file}`), /iris\.csv:3: column 'y' holds 'oops', not a finite number/);
  writeFileSync(file, 'x,label\n1,0\n2\n');
  await rejects(loadData(`csv:${file}`), /iris\.csv:3: 1 fields, the header has 2/);
  writeFileSync(file, 'x,label\n1,0\n2,1\n');
  await rejects(loadData(`csv:${file}`, { labelColumn: 'nope' }), /no column 'nope' \(columns: x, label\)/);
});

test('idx and fashion-mnist: train and t10k files, the t10k part is the test split', async () => {
  const dir = tmp();
  const write = (name: string, dims: number[], data: Uint8Array) => writeFileSync(join(dir, `${name}.gz`), gzipSync(encodeIdx(dims, data)));
  write('train-images-idx3-ubyte', [20, 2, 2], Uint8Array.from({ length: 80 }, (_, i) => i));
  write('train-labels-idx1-ubyte', [20], Uint8Array.from({ length: 20 }, (_, i) => i % 3));
  write('t10k-images-idx3-ubyte', [5, 2, 2], new Uint8Array(20));
  write('t10k-labels-idx1-ubyte', [5], Uint8Array.from([0, 1, 2, 0, 1]));
  const d = await loadData(`idx:${dir}`);
  assert.equal(d.count, 25);
  assert.deepEqual(d.classNames, ['0', '1', '2']);
  const s = splitDataset(d, 1);
  assert.deepEqual(Array.from(s.test), [20, 21, 22, 23, 24]);
  assert.equal(s.train.length + s.validation.length, 20);
  assert.deepEqual(splitDataset(d, 1), s, 'splits are deterministic');
  const fm = await loadData(`fashion-mnist:${SHIPPED_FASHION_MNIST}`);
  assert.equal(fm.count, 5000);
  assert.equal(fm.classNames[9], 'Ankle boot');
  assert.deepEqual(fm.hierarchy?.coarse, [0, 2, 0, 3, 0, 1, 0, 1, 4, 1]);
});

test('embedded: a deterministic six-level ordinal task on real images', async () => {
  const a = await loadData('embedded');
  const b = await loadData('embedded');
  assert.equal(a.count, 5000);
  assert.deepEqual(a.classNames.length, 6);
  assert.ok(Buffer.from(a.images.buffer).equals(Buffer.from(b.images.buffer)));
  const counts = [0, 0, 0, 0, 0, 0];
  for (const y of a.labels) counts[y]!++;
  assert.ok(counts.every((c) => c > 700), `levels are balanced: ${counts}`);
});

test('an unknown --data form lists the known ones', async () => {
  await rejects(loadData('imagenet:/data'), /--data imagenet:\/data is not understood; use one of: embedded, fashion-mnist\[:DIR\], idx:DIR, utkface:DIR, pets:DIR, folder:DIR, images:CSV, csv:FILE/);
  await rejects(loadData('folder'), /--data folder needs a path: folder:PATH/);
});
