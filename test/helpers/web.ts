// For the browser tests: small labelled image folders (three colour classes,
// PNG and JPEG mixed, that a tiny CNN learns in a few epochs), a run trained
// on one, exported, served and opened in Debian's Chromium, and the page.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jimp } from 'jimp';
import type { Browser, Page } from 'playwright-core';
import { exportBundle, type ExportResult } from '../../src/cli/export.ts';
import { serve } from '../../src/cli/serve.ts';
import { Rng } from '../../src/models/random.ts';
import { decodeImage } from '../../src/data/image.ts';
import { Session } from '../../src/runtime/session.ts';
import { DEFAULT_CONFIG } from '../../src/train/config.ts';
import { runTraining } from '../../src/train/driver.ts';
import { CHROMIUM } from '../../bench/webgpu/harness.ts';

export { CHROMIUM };

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


export interface ServedRun {
  dir: string;
  bundle: ExportResult;
  server: Awaited<ReturnType<typeof serve>>;
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Trains `model` with `loss` on a folder of `perClass` images per class (or on
 * the data `data(dir)` writes and names), exports and serves it, and starts
 * Chromium with `args`.
 */
export async function servedRun(o: { prefix: string; perClass: number; model: string; loss: string; epochs: number; args: string[]; data?: (dir: string) => Promise<string>; imageSize?: [number, number, number] }): Promise<ServedRun> {
  const dir = mkdtempSync(join(tmpdir(), o.prefix));
  let data = `folder:${join(dir, 'data')}`;
  if (o.data) data = await o.data(dir);
  else await writeFolder(join(dir, 'data'), o.perClass, 1);
  const config = { ...DEFAULT_CONFIG, data, dataOptions: { imageSize: o.imageSize ?? SIZE }, model: o.model, loss: o.loss, epochs: o.epochs, batch: 16 };
  await runTraining(config, join(dir, 'run'));
  const bundle = await exportBundle(join(dir, 'run'), join(dir, 'web'));
  const server = await serve(join(dir, 'web'), { port: 0 });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', ...o.args] });
  return {
    dir, bundle, server, browser,
    close: async () => {
      await browser.close();
      server.server.close();
    },
  };
}

/** The served page at `query`, once its model has loaded; the URLs it requested and how long loading took. */
export async function openPage(run: ServedRun, query = ''): Promise<{ page: Page; requests: string[]; loadMs: number }> {
  const page = await run.browser.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  const t0 = Date.now();
  await page.goto(`${run.server.url}${query}`);
  await page.waitForFunction(() => (globalThis as { lossgraph?: unknown }).lossgraph !== undefined);
  await page.evaluate(() => (globalThis as unknown as { lossgraph: { ready: Promise<void> } }).lossgraph.ready);
  return { page, requests, loadMs: Date.now() - t0 };
}

/**
 * Classifies each of `files` in the page and with onnxruntime-node on `inferenceModel`:
 * the same top-1 class, and probabilities within 1e-4. `what` names the page's backend in messages.
 */
export async function assertClassifiesLikeNode(page: Page, files: readonly string[], inferenceModel: string, what = 'page'): Promise<void> {
  const inference = await Session.create(readFileSync(inferenceModel));
  try {
    for (const f of files) {
      const web = await page.evaluate(async (b) => {
        const app = (globalThis as unknown as { lossgraph: { classify(x: Uint8Array): Promise<{ classIndex: number; probabilities: Float32Array }> } }).lossgraph;
        const r = await app.classify(new Uint8Array(b));
        return { classIndex: r.classIndex, probabilities: Array.from(r.probabilities) };
      }, Array.from(readFileSync(f)));
      const x = await decodeImage(f, { width: SIZE[2], height: SIZE[1], channels: 3 });
      const out = await inference.run({ input: inference.tensor('float32', x, [1, ...SIZE]) });
      const probs = Array.from(out['probabilities']!.data as Float32Array);
      assert.equal(web.classIndex, Number((out['class']!.data as BigInt64Array)[0]), f);
      probs.forEach((p, k) => assert.ok(Math.abs(p - web.probabilities[k]!) < 1e-4, `${f}: class ${k}: ${what} ${web.probabilities[k]} vs Node ${p}`));
    }
  } finally {
    await inference.release();
  }
}
