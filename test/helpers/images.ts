// Small labelled image folders for the browser tests: three colour classes,
// PNG and JPEG mixed, that a tiny CNN learns in a few epochs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Jimp } from 'jimp';
import { Rng } from '../../src/models/random.ts';

export const CLASSES = ['blue', 'green', 'red'];
/** The models' input size in these tests (the images are 20x20 and get resized). */
export const SIZE: [number, number, number] = [3, 16, 16];

/** A 20x20 image of class `k`: one dominant colour channel with noise, and a bright square somewhere. */
export async function sampleImage(r: Rng, k: number, mime: 'image/png' | 'image/jpeg'): Promise<Buffer> {
  const image = new Jimp({ width: 20, height: 20 });
  const d = image.bitmap.data;
  const sx = r.int(12);
  const sy = r.int(12);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) {
    const p = 4 * (y * 20 + x);
    const inSquare = x >= sx && x < sx + 6 && y >= sy && y < sy + 6;
    for (let c = 0; c < 3; c++) {
      const base = c === 2 - k ? 170 : 50; // blue, green, red in sorted-name order
      d[p + c] = Math.max(0, Math.min(255, Math.round(base + (inSquare ? 60 : 0) + 25 * r.normal())));
    }
    d[p + 3] = 255;
  }
  return mime === 'image/png' ? image.getBuffer('image/png') : image.getBuffer('image/jpeg', { quality: 85 });
}

export async function writeFolder(root: string, perClass: number, seed: number): Promise<string[]> {
  const r = new Rng(seed);
  const files: string[] = [];
  for (const [k, name] of CLASSES.entries()) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const jpeg = i % 2 === 1;
      const path = join(root, name, `${i}.${jpeg ? 'jpg' : 'png'}`);
      writeFileSync(path, await sampleImage(r, k, jpeg ? 'image/jpeg' : 'image/png'));
      files.push(path);
    }
  }
  return files;
}

