// The exported page as a person uses it (issue 24): an ordinal run with 101
// age classes (synthetic UTKFace-named faces) in Chromium with a fake camera.
// Class cards, the camera, remove/clear/reset, held-back images, the live
// preview, a loss that turns infinite, a large photo decoded off the page's
// thread, a bad file after a good one, class names typed after choosing "new
// classes", the 101-class chart on a phone, samples and meta.json; and the
// screenshots docs/web.md shows, at desktop and phone width, light and dark.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Jimp } from 'jimp';
import type { Page } from 'playwright-core';
import { Rng } from '../src/models/random.ts';
import { CHROMIUM, CLASSES, openPage as openServedPage, servedRun, writeFolder, type ServedRun } from './helpers/web.ts';

const SHOTS = fileURLToPath(new URL('../artifacts/screenshots/', import.meta.url));
const skip = !existsSync(CHROMIUM) ? `no ${CHROMIUM} (apt-get install chromium)` : undefined;

let run: ServedRun | undefined;
let colours: string[] = [];

/** Faces named age_gender_race_date.jpg: a grey level that grows with the age, and noise. */
async function writeFaces(dir: string): Promise<string> {
  const faces = join(dir, 'faces');
  mkdirSync(faces, { recursive: true });
  const r = new Rng(5);
  for (let i = 0; i < 60; i++) {
    const age = 1 + ((i * 37) % 100);
    const image = new Jimp({ width: 24, height: 24 });
    for (let p = 0; p < 24 * 24; p++) {
      const v = Math.max(0, Math.min(255, Math.round(40 + 2 * age + 20 * r.normal())));
      image.bitmap.data.set([v, v, Math.max(0, v - 30), 255], 4 * p);
    }
    writeFileSync(join(faces, `${age}_${i % 2}_0_2017${String(i).padStart(4, '0')}.jpg`), await image.getBuffer('image/jpeg'));
  }
  return `utkface:${faces}`;
}

before(async () => {
  if (skip) return;
  run = await servedRun({ prefix: 'lossgraph-page-', perClass: 0, model: 'cnn:4,8', loss: 'ce + 0.3*gaussian_kl(sigma=1)', epochs: 1, imageSize: [3, 16, 16], data: writeFaces, args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] });
  colours = await writeFolder(join(run.dir, 'colours'), 5, 3);
});

after(async () => {
  await run?.close();
});

type App = {
  classify(b: Uint8Array, name?: string): Promise<{ top: { name: string }[]; probabilities: number[] }>;
  addImages(f: { bytes: Uint8Array; label: number }[]): Promise<number>;
  finetune(o: unknown): Promise<{ losses: number[]; accuracy: number; validation?: number }>;
  startWorker(c: unknown): Promise<{ classes: string[]; loss: string }>;
  setClasses(c: unknown): void;
  run(f: () => Promise<unknown>): Promise<unknown>;
  reset(): Promise<void>;
  stop(): void;
  labelled: { size: number };
};
const setClasses = (page: Page, c: unknown) => page.evaluate((x) => (globalThis as unknown as { lossgraph: App }).lossgraph.setClasses(x), c);
const labelledSize = (page: Page) => page.evaluate(() => (globalThis as unknown as { lossgraph: App }).lossgraph.labelled.size);
const bytesOf = (f: string) => Array.from(readFileSync(f));
const labelledColours = () => colours.map((f) => ({ bytes: bytesOf(f), label: CLASSES.indexOf(f.split('/').at(-2)!) }));
const addColours = (page: Page) => page.evaluate((xs) => (globalThis as unknown as { lossgraph: App }).lossgraph.addImages(xs.map((x) => ({ bytes: new Uint8Array(x.bytes), label: x.label }))), labelledColours());
const classifyFile = (page: Page, f: string) => page.evaluate((b) => (globalThis as unknown as { lossgraph: App }).lossgraph.classify(new Uint8Array(b), 'probe.png'), bytesOf(f));
const cardCounts = (page: Page) => page.$$eval('#cards .card', (cards) => cards.map((c) => `${c.querySelector('.name')!.textContent}: ${c.querySelector('.count')!.textContent} / ${c.querySelectorAll('.thumbs img').length} thumbnails`));

test('meta.json holds no local path; the samples are one per class, spread over the 101 ages; the last class is 100+', { skip }, async () => {
  const meta = JSON.parse(readFileSync(join(run!.dir, 'web', 'model', 'meta.json'), 'utf8'));
  assert.equal(meta.run.data, 'utkface:faces');
  assert.ok(!JSON.stringify(meta).includes(run!.dir), 'a path of this machine is in meta.json');
  assert.equal(meta.classes.length, 101);
  assert.equal(meta.classes[100], '100+');
  const labels = meta.samples.map((s: { label: string }) => s.label);
  assert.ok(labels.length >= 6, labels.join(' '));
  assert.equal(new Set(labels).size, labels.length, `one sample per class: ${labels.join(' ')}`);
});

test('the 101-class distribution fits a phone: axes, class names, the expected age marked in years; screenshots at 1280 and 390 px, light and dark', { skip }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  for (const [width, scheme] of [[1280, 'light'], [390, 'light'], [1280, 'dark'], [390, 'dark']] as const) {
    const page = await run!.browser.newPage({ viewport: { width, height: 900 }, colorScheme: scheme });
    await page.goto(run!.server.url);
    await page.waitForFunction(() => (globalThis as { lossgraph?: { meta?: unknown } }).lossgraph?.meta !== undefined);
    await page.evaluate(() => (globalThis as unknown as { lossgraph: { ready: Promise<void> } }).lossgraph.ready);
    await page.click('#samples button');
    await page.waitForSelector('#distribution svg');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `${width} px: the page scrolls sideways`);
    const svg = await page.$eval('#distribution svg', (s) => ({ width: s.getBoundingClientRect().width, labels: [...s.querySelectorAll('text')].map((t) => t.textContent), expected: s.querySelectorAll('line.expected').length, bars: s.querySelectorAll('rect').length }));
    assert.equal(svg.bars, 101);
    assert.ok(svg.width <= width, `${svg.width} px wide at ${width}`);
    assert.equal(svg.expected, 1, 'the expected value is marked');
    assert.ok(svg.labels.includes('0%') && svg.labels.some((l) => /^\d+%$/.test(l!) && l !== '0%'), `a y axis: ${svg.labels.join(' ')}`);
    assert.ok(svg.labels.includes('0') && svg.labels.includes('100+'), `class names along x: ${svg.labels.join(' ')}`);
    assert.ok(svg.labels.some((l) => /^expected \d+\.\d years$/.test(l!)), `the mark's label: ${svg.labels.join(' ')}`);
    assert.match((await page.textContent('#expected'))!, /^Expected value: \d+\.\d years$/);
    if (scheme === 'dark') assert.notEqual(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(250, 250, 250)');
    await page.screenshot({ path: join(SHOTS, `page-${width}-${scheme}.png`), fullPage: true });
    await page.close();
  }
});

test('class cards: one per class (picked from a list for 101 classes); images added (file picker, drop, paste) show as thumbnails with counts; one removed, a class cleared; every fifth held back', { skip }, async () => {
  const { page } = await openServedPage(run!);
  // The model's 101 classes: no wall of empty cards; a card per class picked from the list.
  assert.deepEqual(await cardCounts(page), []);
  await page.selectOption('#pick-class', { label: '37' });
  assert.deepEqual(await cardCounts(page), ['37: 0 images / 0 thumbnails']);
  await setClasses(page, { mode: 'new', classes: ['blue', 'green', 'red'], loss: 'ce' });
  assert.equal(await page.isHidden('#pick-class-row'), true);
  // Through the card's own file input, as a person picks files.
  await page.setInputFiles('#cards .card:nth-child(1) input[type=file]', colours.filter((f) => f.includes('/blue/')));
  await page.waitForFunction(() => document.querySelectorAll('#cards .card:nth-child(1) .thumbs img').length === 5);
  assert.deepEqual(await cardCounts(page), ['blue: 5 images, 1 held back / 5 thumbnails', 'green: 0 images / 0 thumbnails', 'red: 0 images / 0 thumbnails']);
  assert.match((await page.textContent('#ft-count'))!, /^5 images: 4 to train on, 1 held back/);
  await page.click('#cards .card:nth-child(1) .thumbs li:nth-child(2) .remove');
  assert.deepEqual(await cardCounts(page), ['blue: 4 images / 4 thumbnails', 'green: 0 images / 0 thumbnails', 'red: 0 images / 0 thumbnails']);
  await page.click('#cards .card:nth-child(1) button:has-text("Clear")');
  assert.equal(await labelledSize(page), 0);
  // Dropped on the second card, and pasted while the third has the focus.
  const png = bytesOf(colours.find((f) => f.endsWith('.png'))!);
  await page.evaluate((b) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(b)], 'dropped.png', { type: 'image/png' }));
    document.querySelector('#cards .card:nth-child(2)')!.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  }, png);
  await page.waitForFunction(() => document.querySelectorAll('#cards .card:nth-child(2) .thumbs img').length === 1);
  await page.focus('#cards .card:nth-child(3)');
  await page.evaluate((b) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(b)], 'pasted.png', { type: 'image/png' }));
    document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, png);
  await page.waitForFunction(() => document.querySelectorAll('#cards .card:nth-child(3) .thumbs img').length === 1);
  assert.deepEqual(await cardCounts(page), ['blue: 0 images / 0 thumbnails', 'green: 1 image / 1 thumbnails', 'red: 1 image / 1 thumbnails']);
  await page.close();
});

test('the webcam (Chromium\'s fake camera): Capture adds a frame to the card\'s class; holding it adds several', { skip }, async () => {
  const { page } = await openServedPage(run!);
  await setClasses(page, { mode: 'new', classes: ['me', 'not me'], loss: 'ce' });
  await page.click('#cards .card:nth-child(2) button:has-text("Webcam")');
  await page.waitForFunction(() => (document.getElementById('webcam-video') as HTMLVideoElement).videoWidth > 0);
  assert.equal(await page.textContent('#capture'), 'Capture to not me');
  await page.click('#capture');
  await page.waitForFunction(() => document.querySelectorAll('#cards .card:nth-child(2) .thumbs img').length === 1);
  const box = (await page.$('#capture'))!;
  await box.hover();
  await page.mouse.down();
  await page.waitForTimeout(700);
  await page.mouse.up();
  const n = await page.$$eval('#cards .card:nth-child(2) .thumbs img', (x) => x.length);
  assert.ok(n >= 3, `${n} frames after holding Capture`);
  // A frame is a real picture: not all one colour.
  const distinct = await page.$eval('#cards .card:nth-child(2) .thumbs img', async (img) => {
    const c = new OffscreenCanvas(16, 16).getContext('2d')!;
    await (img as HTMLImageElement).decode();
    c.drawImage(img as HTMLImageElement, 0, 0);
    return new Set(c.getImageData(0, 0, 16, 16).data).size;
  });
  assert.ok(distinct > 4, `the frame has ${distinct} distinct byte values`);
  await page.click('#webcam-close');
  assert.equal(await page.isHidden('#webcam'), true);
  await page.close();
});

test('fine-tuning new classes: accuracy on the held-back images each step, the classify panel previews the model as it trains, then shows it; Reset brings the bundle\'s model back', { skip }, async () => {
  const { page } = await openServedPage(run!);
  const probe = colours.find((f) => f.includes('/red/'))!;
  const before = await classifyFile(page, probe);
  assert.equal(before.top[0]!.name.match(/^\d/) !== null, true, 'an age class before fine-tuning');
  await setClasses(page, { mode: 'new', classes: CLASSES, loss: 'ce' });
  await addColours(page);
  await page.evaluate(() => {
    (globalThis as unknown as { done: Promise<unknown> }).done = (globalThis as unknown as { lossgraph: App }).lossgraph.finetune({ steps: 100000, batch: 6, lr: 0.02 });
  });
  // While it trains: the panel shows the model being trained on the probe image, with the new names.
  await page.waitForFunction(() => /^Preview: the model being fine-tuned, after step \d+/.test(document.getElementById('preview-note')!.textContent ?? ''));
  const previewNames = await page.$$eval('#topk li', (li) => li.map((l) => l.textContent!.split(':')[0]));
  assert.deepEqual([...previewNames].sort(), [...CLASSES].sort());
  await page.waitForFunction(() => /^step (\d+)/.test(document.getElementById('ft-status')!.textContent ?? '') && Number(/^step (\d+)/.exec(document.getElementById('ft-status')!.textContent!)![1]) >= 25);
  assert.match((await page.textContent('#ft-status'))!, /% on the held-back ones/);
  assert.equal(await page.$$eval('#chart path.validation', (p) => p.length), 1);
  await page.click('#stop');
  const r = await page.evaluate(() => (globalThis as unknown as { done: Promise<{ validation?: number; accuracy: number }> }).done);
  assert.ok(r.validation !== undefined && r.validation >= 2 / 3, `held-back accuracy ${r.validation}`);
  assert.equal(await page.textContent('#preview-note'), '', 'after training the panel shows the fine-tuned model itself');
  assert.equal((await page.textContent('#topk li'))!.split(':')[0], 'red');
  mkdirSync(SHOTS, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: join(SHOTS, 'page-finetuned.png'), fullPage: true });
  // Reset: no images, no downloads, the bundle's 101 age classes in the panel again.
  await page.click('#reset');
  await page.waitForFunction(() => /^\d/.test(document.querySelector('#topk li')?.textContent ?? ''));
  assert.equal(await labelledSize(page), 0);
  assert.equal(await page.isDisabled('#download-model'), true);
  const again = await classifyFile(page, probe);
  again.probabilities.forEach((p, k) => assert.ok(Math.abs(p - before.probabilities[k]!) < 1e-6, `class ${k}: ${p} vs ${before.probabilities[k]}`));
  await page.close();
});

test('a loss that becomes infinite stops training at once, says so, keeps the model as it was and offers nothing to download', { skip }, async () => {
  const { page } = await openServedPage(run!);
  await setClasses(page, { mode: 'new', classes: CLASSES, loss: '1e30*1e30*ce' });
  await addColours(page);
  const message = await page.evaluate(() => (globalThis as unknown as { lossgraph: App }).lossgraph.finetune({ steps: 50, batch: 6, lr: 0.01 }).then(() => 'ran', (e: Error) => e.message));
  assert.match(message, /^Fine-tuning stopped at step 1: the loss became (Infinity|NaN)\. The model was not changed; try a lower learning rate\.$/);
  assert.equal(await page.isDisabled('#download-model'), true);
  assert.equal(await page.isDisabled('#download-checkpoint'), true);
  assert.equal(await page.isEnabled('#start'), true);
  await page.close();
});

test('names typed after choosing "New classes" are the ones trained, without toggling the radio', { skip }, async () => {
  const { page } = await openServedPage(run!);
  await page.check('input[name=mode][value=new]');
  await page.fill('#new-classes', 'bluish, greenish, reddish');
  assert.deepEqual(await page.$$eval('#cards .card .name', (n) => n.map((x) => x.textContent)), ['bluish', 'greenish', 'reddish']);
  await addColours(page);
  // Retyping a name (deleting it first) keeps its images; half-typed names are no error.
  await page.fill('#new-classes', 'bluish, greenish,');
  assert.deepEqual(await page.$$eval('#cards .card .name', (n) => n.map((x) => x.textContent)), ['bluish', 'greenish']);
  await page.fill('#new-classes', 'bluish, greenish, redd');
  await page.fill('#new-classes', 'bluish, greenish, reddish');
  assert.deepEqual(await cardCounts(page), ['bluish: 5 images, 1 held back / 5 thumbnails', 'greenish: 5 images, 1 held back / 5 thumbnails', 'reddish: 5 images, 1 held back / 5 thumbnails']);
  assert.equal(await page.isHidden('#error'), true);
  await page.fill('#steps', '3');
  await page.click('#start');
  await page.waitForFunction(() => /^Fine-tuned in this page/.test(document.getElementById('model-line')!.textContent ?? ''));
  assert.match((await page.textContent('#model-line'))!, /3 classes: bluish, greenish, reddish/);
  await page.close();
});

test('a large photo is decoded off the page\'s thread with a status line; a bad file then clears the old result; a newer image wins', { skip }, async () => {
  const { page } = await openServedPage(run!);
  // 2400×1600: jpeg-js takes about a second on it, which the page's thread used to spend frozen.
  const big = new Jimp({ width: 2400, height: 1600, color: 0x4080c0ff });
  const bytes = Array.from(await big.getBuffer('image/jpeg', { quality: 80 }));
  await classifyFile(page, colours[0]!);
  const gaps = await page.evaluate(async (b) => {
    let last = performance.now();
    let worst = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 10);
    const pending = (globalThis as unknown as { lossgraph: App }).lossgraph.classify(new Uint8Array(b), 'big.jpg');
    const status = document.getElementById('timing')!.textContent;
    const cleared = document.querySelectorAll('#topk li').length;
    await pending;
    clearInterval(tick);
    return { worst, status, cleared, after: document.getElementById('timing')!.textContent };
  }, bytes);
  assert.match(gaps.status!, /^Reading big\.jpg \(0\.\d MB\)…$/);
  assert.equal(gaps.cleared, 0, 'the previous result is cleared at once');
  assert.ok(gaps.worst < 250, `the page's thread stalled ${gaps.worst.toFixed(0)} ms while decoding`);
  assert.match(gaps.after!, /a 2400×1600 image/);
  // A corrupt file after a good one: the error, and no result left beside it.
  const bad = await page.evaluate(async () => {
    const app = (globalThis as unknown as { lossgraph: App }).lossgraph;
    await app.run(() => app.classify(new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3, 4]), 'broken.jpg'));
    return { error: document.getElementById('error')!.textContent, results: document.querySelectorAll('#topk li').length, expected: document.getElementById('expected')!.textContent };
  });
  assert.match(bad.error!, /^broken\.jpg: not an image the page can read/);
  assert.deepEqual([bad.results, bad.expected], [0, '']);
  // Two images in quick succession: the second's result is shown, the first's is dropped.
  const order = await page.evaluate(async ([a, b]) => {
    const app = (globalThis as unknown as { lossgraph: App }).lossgraph;
    const first = app.run(() => app.classify(new Uint8Array(a!), 'big.jpg'));
    const second = app.run(() => app.classify(new Uint8Array(b!), 'small.png'));
    const [x, y] = await Promise.all([first, second]);
    return { first: x === undefined, second: y !== undefined, error: document.getElementById('error')!.hidden };
  }, [bytes, bytesOf(colours[0]!)]);
  assert.deepEqual(order, { first: true, second: true, error: true });
  await page.close();
});

test('coarse labels are the data set\'s own names (Fashion-MNIST: tops, footwear, …), in meta.json and on the page', { skip }, async () => {
  const { SHIPPED_FASHION_MNIST } = await import('../src/data/idx.ts');
  const { FASHION_MNIST_COARSE } = await import('../src/data/fashion.ts');
  const { DEFAULT_CONFIG } = await import('../src/train/config.ts');
  const { runTraining } = await import('../src/train/driver.ts');
  const { exportBundle } = await import('../src/cli/export.ts');
  const { serve } = await import('../src/cli/serve.ts');
  const folder = join(run!.dir, 'fashion');
  await runTraining({ ...DEFAULT_CONFIG, data: `fashion-mnist:${SHIPPED_FASHION_MNIST}`, model: 'mlp:8', loss: 'ce', epochs: 1, batch: 64 }, join(run!.dir, 'fashion-run'));
  await exportBundle(join(run!.dir, 'fashion-run'), folder);
  const meta = JSON.parse(readFileSync(join(folder, 'model', 'meta.json'), 'utf8'));
  assert.deepEqual(meta.hierarchy.coarse.names, FASHION_MNIST_COARSE.names);
  const { server, url } = await serve(folder, { port: 0 });
  try {
    const page = await run!.browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => (globalThis as { lossgraph?: unknown }).lossgraph !== undefined);
    await page.evaluate(() => (globalThis as unknown as { lossgraph: { ready: Promise<void> } }).lossgraph.ready);
    await page.click('#samples button');
    await page.waitForFunction(() => (document.getElementById('coarse')!.textContent ?? '') !== '');
    assert.match((await page.textContent('#coarse'))!, new RegExp(`^coarse: (${FASHION_MNIST_COARSE.names.join('|')})$`));
    await page.close();
  } finally {
    server.close();
  }
});
