// The decoded-image cache and data larger than memory: a second load reads the
// cache instead of decoding, a changed file invalidates it, and a data set
// above --max-memory streams its batches from the cache file with the same
// training results as in memory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Jimp } from 'jimp';
import { gatherExamples } from '../src/data/batches.ts';
import { loadData } from '../src/data/index.ts';
import { Rng } from '../src/models/random.ts';

const BIN = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'lossgraph-cache-'));
const data = join(root, 'data');
const SIZE: [number, number, number] = [3, 12, 12];

async function writeImages(perClass: number): Promise<void> {
  const r = new Rng(11);
  for (const [k, name] of ['a', 'b', 'c'].entries()) {
    mkdirSync(join(data, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const image = new Jimp({ width: 20, height: 20 });
      for (let p = 0; p < 400; p++) for (let c = 0; c < 3; c++) image.bitmap.data[4 * p + c] = Math.max(0, Math.min(255, Math.round((c === k ? 170 : 60) + 40 * r.normal())));
      for (let p = 0; p < 400; p++) image.bitmap.data[4 * p + 3] = 255;
      writeFileSync(join(data, name, `${i}.png`), await image.getBuffer('image/png'));
    }
  }
}

test('a second load reads the cache; a changed file invalidates it; above the memory limit batches stream from disk', async () => {
  await writeImages(60);
  const cacheDir = join(root, 'cache');
  const first = await loadData(`folder:${data}`, { imageSize: SIZE, cacheDir });
  assert.equal(first.cached, false);
  const second = await loadData(`folder:${data}`, { imageSize: SIZE, cacheDir });
  assert.equal(second.cached, true);
  assert.ok(Buffer.from(second.images.buffer).equals(Buffer.from(first.images.buffer)), 'cached tensors are the decoded ones');
  assert.deepEqual(Array.from(second.labels), Array.from(first.labels));

  // Touch one file: its mtime is part of the key.
  const later = new Date(Date.now() + 5000);
  utimesSync(join(data, 'a', '0.png'), later, later);
  assert.equal((await loadData(`folder:${data}`, { imageSize: SIZE, cacheDir })).cached, false);

  // 180 examples x 3x12x12 floats = 311 KiB; a 0.1 MiB limit streams them from the cache file.
  const streamed = await loadData(`folder:${data}`, { imageSize: SIZE, cacheDir, maxMemoryMiB: 0.1 });
  assert.equal(streamed.images.length, 0);
  assert.ok(streamed.reader);
  const idx = Int32Array.from([5, 0, 179, 42, 77]);
  const inMemory = await loadData(`folder:${data}`, { imageSize: SIZE, cacheDir });
  assert.ok(Buffer.from(gatherExamples(streamed, idx).images.buffer).equals(Buffer.from(gatherExamples(inMemory, idx).images.buffer)));
  streamed.reader!.close();

  // A first load above the limit decodes straight into the cache file.
  const fresh = join(root, 'fresh-cache');
  const direct = await loadData(`folder:${data}`, { imageSize: SIZE, cacheDir: fresh, maxMemoryMiB: 0.1 });
  assert.equal(direct.cached, false);
  assert.ok(direct.reader && direct.images.length === 0);
  assert.ok(Buffer.from(gatherExamples(direct, idx).images.buffer).equals(Buffer.from(gatherExamples(inMemory, idx).images.buffer)));
  assert.equal(readdirSync(fresh).filter((f) => f.includes('.tmp')).length, 0, 'no temporary file left');
  direct.reader!.close();

  await assert.rejects(loadData(`folder:${data}`, { imageSize: SIZE, maxMemoryMiB: 0.1 }), /the decoded images need 0\.30 MiB, above --max-memory 0\.10 MiB; keep the disk cache on/);
});

test('a run on data larger than --max-memory completes with the same metrics as in memory', () => {
  const run = (out: string, extra: string[]) => {
    const r = spawnSync(process.execPath, [BIN, 'train', '--data', `folder:${data}`, '--image-size', SIZE.join('x'), '--model', 'mlp:16', '--epochs', '2', '--batch', '16', '--cache-dir', join(root, 'cli-cache'), '--out', join(root, out), '--json', ...extra], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  };
  const memory = run('memory', []);
  const streamed = run('streamed', ['--max-memory', '0.1']);
  assert.deepEqual(streamed.test, memory.test);
  const noCache = spawnSync(process.execPath, [BIN, 'train', '--data', `folder:${data}`, '--image-size', SIZE.join('x'), '--no-cache', '--max-memory', '0.1', '--out', join(root, 'x')], { encoding: 'utf8' });
  assert.equal(noCache.status, 2);
  assert.match(noCache.stderr, /keep the disk cache on \(no --no-cache\) to stream them from disk/);
});

test('grayscale images for an RGB model and RGB images for a grayscale model are converted, the same way everywhere', async () => {
  const { decodeImage } = await import('../src/data/image.ts');
  const dir = join(root, 'channels');
  mkdirSync(dir, { recursive: true });
  const rgb = new Jimp({ width: 4, height: 4, color: 0x804020ff });
  const gray = new Jimp({ width: 4, height: 4, color: 0x777777ff });
  writeFileSync(join(dir, 'rgb.png'), await rgb.getBuffer('image/png'));
  writeFileSync(join(dir, 'gray.png'), await gray.getBuffer('image/png'));
  // Gray into 3 channels: R = G = B.
  const g3 = await decodeImage(join(dir, 'gray.png'), { width: 4, height: 4, channels: 3 });
  assert.ok(g3.every((v) => Math.abs(v - 0x77 / 255) < 1e-7));
  // RGB into 1 channel: BT.601 luma.
  const r1 = await decodeImage(join(dir, 'rgb.png'), { width: 4, height: 4, channels: 1 });
  const luma = (0.299 * 0x80 + 0.587 * 0x40 + 0.114 * 0x20) / 255;
  assert.ok(r1.every((v) => Math.abs(v - luma) < 1e-6), `${r1[0]} vs ${luma}`);
});
