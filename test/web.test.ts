// The browser deployment, tested in a real Chromium (Debian's, driven by
// playwright-core): train a run, export it, serve it, classify in the page and
// compare with the Node runtime, check the page's preprocessing against the
// Node loader, fine-tune in the page (and in Node on the same batches), build
// a new head from a typed loss spec, and probe the server's refusals.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { FILES, parseCheckpoint } from '../src/artifacts/contract.ts';
import { parseManifest } from '../src/artifacts/manifest_schema.ts';
import type { ExportResult } from '../src/cli/export.ts';
import { cyclicBatch } from '../src/data/batches.ts';
import { decodeImage } from '../src/data/image.ts';
import { Rng } from '../src/models/random.ts';
import { Session } from '../src/runtime/session.ts';
import { TrainingSession } from '../src/runtime/training.ts';
import { CHROMIUM, CLASSES, SIZE, openPage as openServedPage, sampleImage, servedRun, writeFolder, type ServedRun } from './helpers/web.ts';
import { Jimp } from 'jimp';

const BIN = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));
const SHOTS = fileURLToPath(new URL('../artifacts/screenshots/', import.meta.url));

let run: ServedRun | undefined;
let dir: string;
let bundle: ExportResult;
let server: ServedRun['server'];
const skip = !existsSync(CHROMIUM) ? `no ${CHROMIUM} (apt-get install chromium)` : undefined;

before(async () => {
  if (skip) return;
  run = await servedRun({ prefix: 'lossgraph-web-', perClass: 40, model: 'cnn:4,8', loss: 'ce', epochs: 2, args: [] });
  ({ dir, bundle, server } = run);
});

after(async () => {
  await run?.close();
});

const openPage = (query = '') => openServedPage(run!, query);

/** classify / preprocess take bytes: sent as a number array and rebuilt as a Uint8Array in the page. */
async function withBytes<T>(page: Page, method: 'classify' | 'preprocess', bytes: Uint8Array): Promise<T> {
  return page.evaluate(async ([m, b]) => {
    const app = (globalThis as unknown as { lossgraph: Record<string, (x: Uint8Array) => Promise<unknown>> }).lossgraph;
    const out = await app[m]!(new Uint8Array(b));
    return JSON.parse(JSON.stringify(out, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v)));
  }, [method, Array.from(bytes)] as const) as Promise<T>;
}

test('the page bundle holds no compiler module; the export lists every file with its sha256', { skip }, async (t) => {
  const page = bundle.metafile.outputs[Object.keys(bundle.metafile.outputs).find((o) => o.endsWith(bundle.page))!]!;
  const inputs = Object.keys(page.inputs);
  const compiler = inputs.filter((i) => /src\/(graph|autograd|losses|models|optim)\/|src\/artifacts\/build\.ts/.test(i));
  assert.deepEqual(compiler, []);
  assert.ok(inputs.some((i) => i.includes('src/runtime/session.ts')) && inputs.some((i) => i.includes('src/artifacts/contract.ts')));
  const worker = bundle.metafile.outputs[Object.keys(bundle.metafile.outputs).find((o) => o.endsWith(bundle.worker))!]!;
  assert.ok(Object.keys(worker.inputs).some((i) => i.includes('src/autograd/grad.ts')), 'the worker carries the compiler for new heads');
  t.diagnostic(`page.js ${(bundle.pageBytes / 1024).toFixed(0)} KiB, worker.js ${(bundle.workerBytes / 1024).toFixed(0)} KiB, bundle ${(bundle.bytes / 1e6).toFixed(1)} MB in ${bundle.files.length} files`);
  const sums = readFileSync(join(dir, 'web', 'SHA256SUMS'), 'utf8').trim().split('\n');
  assert.equal(sums.length, bundle.files.length - 1);
  const meta = JSON.parse(readFileSync(join(dir, 'web', 'model', 'meta.json'), 'utf8'));
  assert.match(bundle.page, /^page-[A-Z0-9]{8}\.js$/);
  assert.match(meta.assets.ort, /^ort-[0-9a-f]{12}\/$/);
  for (const f of ['index.html', bundle.page, bundle.worker, 'model/inference_model.onnx', 'model/meta.json', `${meta.assets.ort}ort.wasm.min.mjs`, `${meta.assets.ort}ort.webgpu.min.mjs`]) assert.ok(sums.some((l) => l.endsWith(`  ${f}`)), f);
  assert.match(readFileSync(join(dir, 'web', 'index.html'), 'utf8'), new RegExp(`src="${bundle.page}"`));
  assert.deepEqual(meta.classes, CLASSES);
  assert.deepEqual([meta.preprocess.channels, meta.preprocess.height, meta.preprocess.width], SIZE);
});

test('first load: only the plain wasm build is fetched without a WebGPU adapter, the load bar counts every byte to the end, and a warm-up run precedes ready', { skip }, async (t) => {
  const { page, requests } = await openPage();
  const meta = JSON.parse(readFileSync(join(dir, 'web', 'model', 'meta.json'), 'utf8'));
  // (The wasm threads' workers import the glue again, from the cache.)
  const ortFiles = [...new Set(requests.filter((u) => u.includes(`/${meta.assets.ort}`)).map((u) => u.split('/').pop()))].sort();
  assert.deepEqual(ortFiles, ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm', 'ort.wasm.min.mjs']);
  const total = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'].reduce((a, f) => a + meta.assets.bytes[`${meta.assets.ort}${f}`], meta.assets.bytes['model/inference_model.onnx']);
  assert.equal(await page.evaluate(() => (document.getElementById('load-progress') as HTMLProgressElement).value), 1);
  assert.equal(await page.textContent('#load-text'), `${(total / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`);
  const timings = await page.evaluate(() => (globalThis as unknown as { lossgraph: { timings: Record<string, number> } }).lossgraph.timings);
  assert.ok(timings.sessionCreated! <= timings.warmedUp!, JSON.stringify(timings));
  t.diagnostic(`load stages (ms since navigation): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`);
  await page.close();
});

test('the page classifies like the Node runtime, and every request stays on the origin', { skip }, async (t) => {
  const { page, requests, loadMs } = await openPage();
  const files = await writeFolder(join(dir, 'check'), 3, 9);
  const inference = await Session.create(readFileSync(join(dir, 'web', 'model', FILES.inference)));
  let firstMs = 0;
  for (const [i, f] of files.entries()) {
    const bytes = readFileSync(f);
    const t0 = Date.now();
    const web = await withBytes<{ classIndex: number; probabilities: number[]; ms: number }>(page, 'classify', bytes);
    if (i === 0) firstMs = Date.now() - t0;
    const x = await decodeImage(f, { width: SIZE[2], height: SIZE[1], channels: 3 });
    const out = await inference.run({ input: inference.tensor('float32', x, [1, ...SIZE]) });
    const probs = Array.from(out['probabilities']!.data as Float32Array);
    assert.equal(web.classIndex, Number((out['class']!.data as BigInt64Array)[0]), f);
    probs.forEach((p, k) => assert.ok(Math.abs(p - web.probabilities[k]!) < 1e-4, `${f}: class ${k}: ${web.probabilities[k]} vs ${p}`));
  }
  await inference.release();
  const backend = await page.evaluate(() => (globalThis as unknown as { lossgraph: { backend: string; threads: number } }).lossgraph.backend);
  const ms = await page.evaluate(() => Number(document.getElementById('timing')!.textContent!.match(/([\d.]+) ms/)![1]));
  t.diagnostic(`backend ${backend}; page load ${loadMs} ms, then first prediction ${firstMs} ms; inference ${ms} ms`);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'prediction.png'), fullPage: true });
  const foreign = requests.filter((u) => !u.startsWith(server.url) && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(foreign, [], 'no request leaves the origin');
  assert.ok(requests.some((u) => u.endsWith('.wasm')));
  // Not an image: the error is on the page.
  await withBytes(page, 'classify', new TextEncoder().encode('not an image')).catch(() => undefined);
  await page.evaluate(async () => {
    const app = (globalThis as unknown as { lossgraph: { run(f: () => Promise<unknown>): Promise<unknown>; classify(b: Uint8Array): Promise<unknown> } }).lossgraph;
    await app.run(() => app.classify(new TextEncoder().encode('not an image')));
  });
  const error = await page.evaluate(() => ({ hidden: document.getElementById('error')!.hidden, text: document.getElementById('error')!.textContent }));
  assert.equal(error.hidden, false);
  assert.match(error.text!, /not an image the page can read/);
  await page.close();
});

test('the page\'s preprocessing gives the Node loader\'s input tensor exactly, for JPEG and PNG, camera orientation included; transparency over white in both', { skip }, async () => {
  const { page } = await openPage();
  const r = new Rng(5);
  const big = new Jimp({ width: 53, height: 37 });
  for (let i = 0; i < big.bitmap.data.length; i++) big.bitmap.data[i] = i % 4 === 3 ? 255 : Math.floor(256 * r.next());
  const cases: [string, Buffer][] = [
    ['png', await big.getBuffer('image/png')],
    ['jpeg', await big.getBuffer('image/jpeg', { quality: 90 })],
    ['small png (upscaled)', await sampleImage(r, 1, 'image/png')],
  ];
  // A camera JPEG stored sideways (EXIF orientation 6, 8, 3): both turn it upright.
  const wide = new Jimp({ width: 40, height: 20 });
  for (let i = 0; i < wide.bitmap.data.length; i++) wide.bitmap.data[i] = i % 4 === 3 ? 255 : (i * 37) % 256;
  const plain = new Uint8Array(await wide.getBuffer('image/jpeg', { quality: 95 }));
  for (const o of [6, 8, 3]) cases.push([`jpeg with EXIF orientation ${o}`, Buffer.from(withExifOrientation(plain, o))]);
  for (const [name, bytes] of cases) {
    const web = await withBytes<number[]>(page, 'preprocess', bytes);
    const node = await decodeImage(new Uint8Array(bytes), { width: SIZE[2], height: SIZE[1], channels: 3 });
    assert.equal(web.length, node.length);
    let worst = 0;
    node.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - web[i]!))));
    assert.equal(worst, 0, `${name}: largest difference ${worst}`);
  }
  // Transparency: both composite over white. A canvas keeps 8-bit premultiplied colour, so partly
  // transparent pixels may differ by a rounding step; fully transparent ones are white in both.
  const clear = new Jimp({ width: 16, height: 16 });
  for (let p = 0; p < 256; p++) clear.bitmap.data.set([200, 30, 60, p % 3 === 0 ? 0 : p % 3 === 1 ? 128 : 255], 4 * p);
  const bytes = await clear.getBuffer('image/png');
  const web = await withBytes<number[]>(page, 'preprocess', bytes);
  const node = await decodeImage(new Uint8Array(bytes), { width: 16, height: 16, channels: 3 });
  let worst = 0;
  node.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - web[i]!))));
  assert.ok(worst <= 2 / 255, `alpha PNG: largest difference ${worst}`);
  assert.equal(node[0], 1, 'a fully transparent pixel is white');
  await page.close();
});

/** A JPEG's bytes with an EXIF segment (APP1) saying `orientation`, as cameras write it. */
function withExifOrientation(jpegBytes: Uint8Array, orientation: number): Uint8Array {
  const tiff = [0x49, 0x49, 0x2a, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0, 0, 0, 0, 0];
  const body = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
  return Uint8Array.from([0xff, 0xd8, 0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 255, ...body, ...jpegBytes.subarray(2)]);
}

test('fine-tuning in the page: the loss falls, Node follows the same trajectory, and lossgraph eval scores the downloaded checkpoint as the page did', { skip }, async (t) => {
  const ftDir = join(dir, 'finetune');
  const files = await writeFolder(ftDir, 4, 21);
  const labelled = files.map((f) => ({ bytes: Array.from(readFileSync(f)), label: CLASSES.indexOf(f.split('/').at(-2)!) }));
  const steps = 15;
  const batch = 6;
  const lr = 0.01;
  const rates: Record<string, number> = {};
  const stepMs: Record<string, number> = {};
  let result: { losses: number[]; accuracy: number } | undefined;
  let checkpoint: number[] = [];
  for (const threads of ['1', 'all']) {
    const { page, requests } = await openPage(threads === '1' ? '?threads=1' : '');
    await page.evaluate(() => (globalThis as unknown as { lossgraph: { startWorker(i: unknown): Promise<unknown> } }).lossgraph.startWorker({ mode: 'existing' }));
    await page.evaluate(async (items) => {
      const app = (globalThis as unknown as { lossgraph: { addImages(f: { bytes: Uint8Array; label: number }[]): Promise<number> } }).lossgraph;
      await app.addImages(items.map((x) => ({ bytes: new Uint8Array(x.bytes), label: x.label })));
    }, labelled);
    const r = await page.evaluate(async (o) => (globalThis as unknown as { lossgraph: { finetune(o: unknown): Promise<{ losses: number[]; accuracy: number; stepsPerSecond: number; medianStepMs: number }> } }).lossgraph.finetune(o), { steps, batch, lr });
    rates[threads] = r.stepsPerSecond;
    stepMs[threads] = r.medianStepMs;
    if (threads === 'all') {
      result = r;
      const exported = await page.evaluate(async () => {
        const e = await (globalThis as unknown as { lossgraph: { exportTrained(): Promise<{ checkpoint: Uint8Array; accuracy: number }> } }).lossgraph.exportTrained();
        return { checkpoint: Array.from(e.checkpoint), accuracy: e.accuracy };
      });
      checkpoint = exported.checkpoint;
      assert.equal(exported.accuracy, r.accuracy);
    }
    // The worker's fetches (models, checkpoint, onnxruntime-web's files) stay on the origin too.
    assert.deepEqual(requests.filter((u) => !u.startsWith(server.url) && !/^(data|blob):/.test(u)), []);
    assert.ok(requests.some((u) => u.endsWith(bundle.worker)), 'the worker was loaded');
    await page.close();
  }
  const { losses, accuracy } = result!;
  assert.ok(losses.length === steps && losses.every(Number.isFinite));
  const early = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
  const late = losses.slice(-3).reduce((a, b) => a + b) / 3;
  assert.ok(late < early, `the loss did not fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);

  // Node, from the same exported files, on the same batches.
  const model = join(dir, 'web', 'model');
  const manifest = parseManifest(readFileSync(join(model, FILES.manifest), 'utf8'), 'manifest');
  const files2 = Object.fromEntries([FILES.training, FILES.eval, FILES.checkpoint].map((f) => [f, new Uint8Array(readFileSync(join(model, f)))]));
  const node = await TrainingSession.fromBuilt({ manifest, files: files2 });
  const images: Float32Array[] = [];
  for (const f of files) images.push(await decodeImage(f, { width: SIZE[2], height: SIZE[1], channels: 3 }));
  const all = new Float32Array(images.length * images[0]!.length);
  images.forEach((x, i) => all.set(x, i * x.length));
  const labels = Int32Array.from(labelled, (l) => l.label);
  const nodeMs: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    const l = await node.runTrainStep(cyclicBatch(all, labels, s, batch), lr);
    nodeMs.push(performance.now() - t0);
    assert.ok(Math.abs(l - losses[s]!) <= 1e-4 * Math.max(1, Math.abs(l)), `step ${s + 1}: Node ${l}, page ${losses[s]}`);
  }
  await node.release();
  const nodeMedian = nodeMs.sort((a, b) => a - b)[Math.floor(steps / 2)]!;
  t.diagnostic(`fine-tuning (batch ${batch}, ${SIZE.join('x')}, cnn:4,8), median training step: page wasm 1 thread ${stepMs['1']!.toFixed(2)} ms, all threads ${stepMs.all!.toFixed(2)} ms, Node CPU ${nodeMedian.toFixed(2)} ms; page loop with per-step evaluation: ${rates['1']!.toFixed(1)} / ${rates.all!.toFixed(1)} steps/s`);

  // The downloaded checkpoint loads in lossgraph eval and scores, on the same images, what the page reported.
  const ckpt = join(dir, 'finetuned.safetensors');
  writeFileSync(ckpt, new Uint8Array(checkpoint));
  parseCheckpoint(new Uint8Array(checkpoint), ckpt, manifest);
  const ev = spawnSync(process.execPath, [BIN, 'eval', '--run', join(dir, 'run'), '--checkpoint', ckpt, '--data', `folder:${ftDir}`, '--json'], { encoding: 'utf8' });
  assert.equal(ev.status, 0, ev.stderr);
  const scored = JSON.parse(ev.stdout.trim().split('\n').pop()!);
  assert.equal(scored.examples, files.length);
  assert.ok(Math.abs(scored.test.accuracy - accuracy) < 1e-9, `eval ${scored.test.accuracy} vs page ${accuracy}`);
});

test('fine-tuning can be watched and stopped: a screenshot mid-run, then the Stop button', { skip }, async () => {
  const { page } = await openPage();
  await page.evaluate(() => (globalThis as unknown as { lossgraph: { startWorker(i: unknown): Promise<unknown> } }).lossgraph.startWorker({ mode: 'existing' }));
  const files = await writeFolder(join(dir, 'watch'), 3, 41);
  const items = files.map((f) => ({ bytes: Array.from(readFileSync(f)), label: CLASSES.indexOf(f.split('/').at(-2)!) }));
  await page.evaluate(async (xs) => {
    const app = (globalThis as unknown as { lossgraph: { addImages(f: { bytes: Uint8Array; label: number }[]): Promise<number> } }).lossgraph;
    await app.addImages(xs.map((x) => ({ bytes: new Uint8Array(x.bytes), label: x.label })));
    (globalThis as unknown as { run: Promise<unknown> }).run = (globalThis as unknown as { lossgraph: { finetune(o: unknown): Promise<unknown> } }).lossgraph.finetune({ steps: 100000, batch: 6, lr: 0.005 });
  }, items);
  await page.waitForFunction(() => /^step (\d+)/.test(document.getElementById('ft-status')!.textContent ?? '') && Number(/^step (\d+)/.exec(document.getElementById('ft-status')!.textContent!)![1]) >= 20);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'finetuning.png'), fullPage: true });
  await page.click('#stop');
  const r = await page.evaluate(() => (globalThis as unknown as { run: Promise<{ stopped: boolean; losses: number[] }> }).run);
  assert.equal(r.stopped, true);
  assert.ok(r.losses.length >= 20 && r.losses.length < 100000, `${r.losses.length} steps`);
  assert.equal(await page.isDisabled('#stop'), true);
  assert.equal(await page.isEnabled('#download-checkpoint'), true);
  await page.close();
});

test('new classes in the page: a 3-class head built in the browser from a typed loss spec trains', { skip }, async () => {
  const { page } = await openPage();
  const ready = await page.evaluate(() => (globalThis as unknown as { lossgraph: { startWorker(i: unknown): Promise<{ classes: string[]; loss: string; head: string }> } }).lossgraph.startWorker({ mode: 'new', classes: ['low', 'mid', 'high'], loss: 'ce + 0.3*gaussian_kl(sigma=1)' }));
  assert.deepEqual(ready.classes, ['low', 'mid', 'high']);
  assert.equal(ready.loss, 'ce + 0.3*gaussian_kl(sigma=1)');
  const files = await writeFolder(join(dir, 'newhead'), 3, 33);
  const items = files.map((f) => ({ bytes: Array.from(readFileSync(f)), label: CLASSES.indexOf(f.split('/').at(-2)!) }));
  await page.evaluate(async (xs) => {
    const app = (globalThis as unknown as { lossgraph: { addImages(f: { bytes: Uint8Array; label: number }[]): Promise<number> } }).lossgraph;
    await app.addImages(xs.map((x) => ({ bytes: new Uint8Array(x.bytes), label: x.label })));
  }, items);
  const r = await page.evaluate(async () => (globalThis as unknown as { lossgraph: { finetune(o: unknown): Promise<{ losses: number[]; accuracy: number }> } }).lossgraph.finetune({ steps: 25, batch: 9, lr: 0.02 }));
  assert.ok(r.losses.at(-1)! < r.losses[0]!, `losses ${r.losses.map((l) => l.toFixed(3)).join(' ')}`);
  assert.ok(r.accuracy > 0.5, `accuracy on the labelled images ${r.accuracy}`);
  const bad = await page.evaluate(async () => {
    const app = (globalThis as unknown as { lossgraph: { run(f: () => Promise<unknown>): Promise<unknown>; startWorker(i: unknown): Promise<unknown> } }).lossgraph;
    await app.run(() => app.startWorker({ mode: 'new', classes: ['a', 'b'], loss: 'ce + gaussian_kl(sigma=0)' }));
    return document.getElementById('error')!.textContent;
  });
  assert.match(bad!, /'sigma' of 'gaussian_kl' is 0; it must be > 0/);
  await page.close();
});

function get(url: string, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serve: types, isolation, nosniff and CSP headers, a year\'s caching for hashed files only; traversal, encoded traversal, symlink escapes and dotfiles are refused', { skip }, async () => {
  const web = join(dir, 'web');
  const ort = JSON.parse(readFileSync(join(web, 'model', 'meta.json'), 'utf8')).assets.ort as string;
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  writeFileSync(join(web, '.hidden'), 'hidden');
  symlinkSync(join(dir, 'secret.txt'), join(web, 'escape.txt'));
  symlinkSync(dir, join(web, 'escape-dir'));
  const wasm = await get(server.url, `/${ort}ort-wasm-simd-threaded.wasm`);
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers['content-type'], 'application/wasm');
  const mjs = await get(server.url, `/${ort}ort.webgpu.min.mjs`);
  assert.match(String(mjs.headers['content-type']), /^text\/javascript/);
  const pageJs = await get(server.url, `/${bundle.page}`);
  const html = await get(server.url, '/index.html');
  const onnx = await get(server.url, '/model/inference_model.onnx');
  const weights = await get(server.url, '/model/checkpoint.safetensors');
  const sums = await get(server.url, '/SHA256SUMS');
  for (const h of [wasm, mjs, pageJs, html, onnx, weights, sums]) {
    assert.equal(h.status, 200);
    assert.equal(h.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(h.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.equal(h.headers['x-content-type-options'], 'nosniff');
    assert.match(String(h.headers['content-security-policy']), /default-src 'self'; script-src 'self' 'wasm-unsafe-eval'/);
  }
  for (const h of [wasm, mjs, pageJs]) assert.equal(h.headers['cache-control'], 'public, max-age=31536000, immutable');
  for (const h of [html, onnx, weights, sums]) assert.equal(h.headers['cache-control'], 'no-cache');
  assert.equal(onnx.headers['content-type'], 'application/octet-stream');
  assert.equal(weights.headers['content-type'], 'application/octet-stream');
  assert.equal(sums.headers['content-type'], 'text/plain; charset=utf-8');
  for (const path of ['/../secret.txt', '/model/../../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E%2Fsecret.txt', '/%252e%252e%252fsecret.txt', '/..%5csecret.txt', '/model%5c..%5c..%5csecret.txt', '/escape.txt', '/escape-dir/secret.txt', '/.hidden', '/%2ehidden', '/model/%00']) {
    const r = await get(server.url, path);
    assert.ok(r.status === 403 || r.status === 404, `${path}: ${r.status}`);
  }
  assert.equal((await get(server.url, '/index.html')).status, 200);
});

test('the page\'s fine-tuning as a person uses it: images labelled before Start are kept, the classify panel then uses the fine-tuned model, downloads are the latest model, bad settings are refused', { skip }, async () => {
  type App = {
    addImages(f: { bytes: Uint8Array; label: number }[]): Promise<number>;
    finetune(o: unknown): Promise<{ losses: number[] }>;
    classify(b: Uint8Array): Promise<{ top: { name: string }[]; probabilities: Float32Array }>;
    startWorker(i: unknown): Promise<unknown>;
    download(which: string): Promise<void>;
  };
  const { page } = await openPage();
  const files = await writeFolder(join(dir, 'person'), 3, 33);
  const labelled = files.map((f) => ({ bytes: Array.from(readFileSync(f)), label: CLASSES.indexOf(f.split('/').at(-2)!) }));
  const probe = Array.from(readFileSync(files[0]!));
  const classify = () => page.evaluate(async (b) => {
    const r = await (globalThis as unknown as { lossgraph: App }).lossgraph.classify(new Uint8Array(b));
    return { names: r.top.map((t) => t.name), probabilities: Array.from(r.probabilities) };
  }, probe);
  const before = await classify();
  // Labelled before any Start: the worker starts on Start and keeps them.
  const count = await page.evaluate(async (items) => (globalThis as unknown as { lossgraph: App }).lossgraph.addImages(items.map((x) => ({ bytes: new Uint8Array(x.bytes), label: x.label }))), labelled);
  assert.equal(count, labelled.length);
  const r = await page.evaluate(async () => (globalThis as unknown as { lossgraph: App }).lossgraph.finetune({ steps: 6, batch: 4, lr: 0.05 }));
  assert.equal(r.losses.length, 6);
  const after = await classify();
  assert.ok(after.probabilities.some((p, k) => Math.abs(p - before.probabilities[k]!) > 1e-6), 'the classify panel still shows the bundle\'s model');
  const download = async () => {
    const [d] = await Promise.all([page.waitForEvent('download'), page.evaluate(() => (globalThis as unknown as { lossgraph: App }).lossgraph.download('inference'))]);
    return readFileSync((await d.path())!);
  };
  const first = await download();
  // New classes: their own labels, a new head; the panel and the download follow.
  await page.evaluate(() => (globalThis as unknown as { lossgraph: App }).lossgraph.startWorker({ mode: 'new', classes: ['dark', 'light'], loss: 'ce' }));
  await page.evaluate(async (items) => (globalThis as unknown as { lossgraph: App }).lossgraph.addImages(items.map((x, i) => ({ bytes: new Uint8Array(x.bytes), label: i % 2 }))), labelled);
  await page.evaluate(async () => (globalThis as unknown as { lossgraph: App }).lossgraph.finetune({ steps: 4, batch: 4, lr: 0.05 }));
  const renamed = await classify();
  assert.deepEqual([...renamed.names].sort(), ['dark', 'light']);
  const second = await download();
  assert.notDeepEqual(second, first, 'the download is the earlier model');
  // Settings a person can mistype: one line on the page, nothing runs.
  for (const [o, expected] of [[{ steps: 3, batch: 0, lr: 0.01 }, /batch must be a whole number/], [{ steps: 3, batch: 4, lr: -1 }, /learning rate must be above 0/], [{ steps: 3, batch: 4, lr: 1e9 }, /at most 10/], [{ steps: 2.5, batch: 4, lr: 0.01 }, /steps must be a whole number/]] as const) {
    const message = await page.evaluate(async (s) => (globalThis as unknown as { lossgraph: App }).lossgraph.finetune(s).then(() => 'ran', (e: Error) => e.message), o);
    assert.match(message, expected);
  }
  await page.close();
});
