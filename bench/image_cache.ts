// Decode-once vs cached load of an image folder: writes N JPEGs (64x64, three
// classes), loads them with a fresh cache (decode + write the cache), then
// again (read the cache). Usage: node --import tsx bench/image_cache.ts [N]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jimp } from 'jimp';
import { loadData } from '../src/data/index.ts';
import { Rng } from '../src/models/random.ts';

const n = Number(process.argv[2] ?? 3000);
const root = mkdtempSync(join(tmpdir(), 'lossgraph-cache-bench-'));
const r = new Rng(1);
for (let i = 0; i < n; i++) {
  const cls = ['a', 'b', 'c'][i % 3]!;
  mkdirSync(join(root, 'data', cls), { recursive: true });
  const image = new Jimp({ width: 64, height: 64 });
  for (let p = 0; p < image.bitmap.data.length; p++) image.bitmap.data[p] = p % 4 === 3 ? 255 : Math.floor(256 * r.next());
  writeFileSync(join(root, 'data', cls, `${i}.jpg`), await image.getBuffer('image/jpeg', { quality: 85 }));
}
const opts = { imageSize: [3, 32, 32] as [number, number, number], cacheDir: join(root, 'cache') };
for (const label of ['first load (decode, write the cache)', 'second load (read the cache)']) {
  const t0 = performance.now();
  const d = await loadData(`folder:${join(root, 'data')}`, opts);
  console.log(`${label}: ${((performance.now() - t0) / 1000).toFixed(2)} s for ${d.count} images (cached: ${d.cached})`);
}
const t0 = performance.now();
const streamed = await loadData(`folder:${join(root, 'data')}`, { ...opts, maxMemoryMiB: 1 });
console.log(`third load above --max-memory 1 MiB (open the cache for streaming): ${((performance.now() - t0) / 1000).toFixed(2)} s`);
streamed.reader?.close();
rmSync(root, { recursive: true, force: true });
