// The page of a run built on an imported ONNX model (the mobilenet_v3_small
// fixture, its body frozen): it classifies like onnxruntime-node and
// fine-tunes its head in the browser. The model's own input size is made in
// the graph (the data's images are resized there), so the page feeds what it
// feeds any run.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FILES } from '../src/artifacts/contract.ts';
import { CHROMIUM, CLASSES, assertClassifiesLikeNode, openPage, servedRun, writeFolder, type ServedRun } from './helpers/web.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/imported/mobilenet_v3_small/model.onnx', import.meta.url));
const skip = !existsSync(CHROMIUM) ? `no ${CHROMIUM} (apt-get install chromium)` : undefined;
let run: ServedRun | undefined;

before(async () => {
  if (skip) return;
  run = await servedRun({ prefix: 'lossgraph-web-import-', perClass: 20, model: `onnx:${FIXTURE};input=3x32x32;train=head;bn=train`, loss: 'ce', epochs: 2, args: [] });
});

after(async () => {
  await run?.close();
});

test('the page of an imported-model run classifies like onnxruntime-node and fine-tunes its head', { skip }, async () => {
  const { page } = await openPage(run!);
  const files = await writeFolder(join(run!.dir, 'check'), 2, 5);
  await assertClassifiesLikeNode(page, files, join(run!.dir, 'web', 'model', FILES.inference));

  const labelled = (await writeFolder(join(run!.dir, 'finetune'), 4, 9)).map((f) => ({ bytes: Array.from(readFileSync(f)), label: CLASSES.indexOf(f.split('/').at(-2)!) }));
  await page.evaluate(() => (globalThis as unknown as { lossgraph: { startWorker(i: unknown): Promise<unknown> } }).lossgraph.startWorker({ mode: 'existing' }));
  await page.evaluate(async (items) => {
    const app = (globalThis as unknown as { lossgraph: { addImages(f: { bytes: Uint8Array; label: number }[]): Promise<number> } }).lossgraph;
    await app.addImages(items.map((x) => ({ bytes: new Uint8Array(x.bytes), label: x.label })));
  }, labelled);
  const r = await page.evaluate(async (o) => (globalThis as unknown as { lossgraph: { finetune(o: unknown): Promise<{ losses: number[] }> } }).lossgraph.finetune(o), { steps: 12, batch: 6, lr: 0.01 });
  assert.ok(r.losses.length === 12 && r.losses.every(Number.isFinite), r.losses.join(' '));
  const early = r.losses.slice(0, 3).reduce((a, b) => a + b) / 3;
  const late = r.losses.slice(-3).reduce((a, b) => a + b) / 3;
  assert.ok(late < early, `the loss did not fall: ${r.losses.map((l) => l.toFixed(3)).join(' ')}`);
  await page.close();
});
