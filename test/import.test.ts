// Imported ONNX models (`--model onnx:PATH`). Gradient parity with PyTorch:
// seven torchvision models (random weights, reduced width; made once by
// scripts/make_import_fixtures.py with Debian's python3-torch, so this test
// needs no Python) take one SGD step with lr 1 on a batch of two 224x224
// images and cross-entropy; the update must equal PyTorch autograd's
// gradient (computed in float64) within 1e-4 of the tensor's largest entry.
// Then freezing, head replacement, training through the CLI, and bad models.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FILES, buildArtifacts } from '../src/artifacts/build.ts';
import { readImportedModel } from '../src/artifacts/model_file.ts';
import { decodeSafetensors } from '../src/artifacts/safetensors.ts';
import { decodeModel, encodeModel } from '../src/onnx/proto.ts';
import { TrainingSession } from '../src/runtime/training.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/imported/', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));
const ARCHS = ['resnet18', 'resnet18_train', 'mobilenet_v2', 'mobilenet_v3_small', 'efficientnet_b0', 'shufflenet_v2_x1_0', 'squeezenet1_1'];
const tmp = () => mkdtempSync(join(tmpdir(), 'lossgraph-import-'));
const fixture = (arch: string) => join(FIXTURES, arch, 'model.onnx');

/** The batch scripts/make_import_fixtures.py feeds PyTorch: a formula, so no input file is committed. */
function batch(): Float32Array {
  return Float32Array.from({ length: 2 * 3 * 224 * 224 }, (_, i) => Math.sin(0.37 * i + 0.1) * 0.5);
}

/** The largest deviation of the update from PyTorch's gradient, relative to the tensor's largest gradient. */
async function parity(arch: string): Promise<{ worst: number; where: string; loss: number; expectedLoss: number; checked: number }> {
  const info = JSON.parse(readFileSync(join(FIXTURES, arch, 'info.json'), 'utf8'));
  // The model as it was exported: every parameter trains; batch norm uses batch statistics when it was exported in training mode.
  const spec = `onnx:${fixture(arch)};head=keep;train=all;bn=${info.training ? 'train' : 'frozen'}`;
  const built = buildArtifacts({ model: spec, loss: 'ce', classes: 10, input: [3, 224, 224], optimizer: 'sgd:momentum=0', seed: 0 }, readImportedModel(spec));
  const session = await TrainingSession.fromBuilt(built, {});
  const before = new Map(session.tensors().map((t) => [t.name, t.data.slice()]));
  const loss = await session.runTrainStep({ images: batch(), labels: BigInt64Array.from([1n, 3n]) }, 1);
  const expected = new Map(decodeSafetensors(readFileSync(join(FIXTURES, arch, 'expected.safetensors')), arch).tensors.map((t) => [t.name, t.data as Float32Array]));
  let worst = 0;
  let where = '';
  let checked = 0;
  for (const t of session.tensors()) {
    const want = expected.get(`grad:${t.name}`);
    if (!want) continue;
    checked++;
    const old = before.get(t.name)!;
    const scale = Math.max(1e-6, ...Array.from(want, Math.abs));
    for (let i = 0; i < t.data.length; i++) {
      // The update old - new is rounded to float32 at the parameter's magnitude: allow that rounding.
      const err = Math.max(0, Math.abs(old[i]! - t.data[i]! - want[i]!) - 4 * Math.abs(old[i]!) * 2 ** -23) / scale;
      if (err > worst) [worst, where] = [err, `${t.name}[${i}]: update ${old[i]! - t.data[i]!}, PyTorch's gradient ${want[i]}`];
    }
  }
  await session.release();
  return { worst, where, loss, expectedLoss: info.loss, checked };
}

for (const arch of ARCHS) {
  test(`imported ${arch}: one SGD step equals PyTorch autograd's gradient`, async () => {
    const r = await parity(arch);
    assert.ok(Math.abs(r.loss - r.expectedLoss) < 1e-5 * r.expectedLoss, `loss ${r.loss} vs PyTorch ${r.expectedLoss}`);
    assert.ok(r.checked >= 20, `only ${r.checked} parameters compared`);
    assert.ok(r.worst < 1e-4, `worst ${r.worst.toExponential(2)} at ${r.where}`);
  });
}

test('train=head freezes the body: its weights are baked into the graphs bit for bit; only the new head is carried and moves', async () => {
  const spec = `onnx:${fixture('resnet18')};input=3x32x32;head=replace;train=head`;
  const imported = readImportedModel(spec)!;
  const built = buildArtifacts({ model: spec, loss: 'ce', classes: 4, input: [3, 32, 32], optimizer: 'adamw', seed: 0 }, imported);
  const carried = built.manifest.carried.map((c) => c.name);
  assert.deepEqual(carried.filter((n) => built.manifest.carried.find((c) => c.name === n)!.kind === 'parameter'), ['head.weight', 'head.bias']);
  const session = await TrainingSession.fromBuilt(built, {});
  const before = session.tensors().map((t) => t.data.slice());
  const images = Float32Array.from({ length: 8 * 3 * 32 * 32 }, (_, i) => Math.cos(i * 0.01));
  for (let s = 0; s < 3; s++) await session.runTrainStep({ images, labels: BigInt64Array.from([0n, 1n, 2n, 3n, 0n, 1n, 2n, 3n]) }, 0.01);
  session.tensors().forEach((t, i) => {
    if (t.name.startsWith('head.')) assert.ok(t.data.some((v, j) => v !== before[i]![j]), `${t.name} did not move`);
  });
  // The frozen weights in the training graph are the model file's, byte for byte.
  const original = new Map((decodeModel(readFileSync(fixture('resnet18'))).graph!.initializer ?? []).map((t) => [t.name!, t]));
  const graphInits = decodeModel(built.files[FILES.training]!).graph!.initializer ?? [];
  let frozen = 0;
  for (const t of graphInits) {
    const src = original.get(t.name!);
    if (!src) continue;
    frozen++;
    assert.deepEqual(Buffer.from(t.rawData!), Buffer.from(src.rawData!), `${t.name} changed`);
  }
  assert.ok(frozen >= 20, `only ${frozen} frozen weights found`);
});

test('train=REGEX trains the matching weights and the new head; the rest stay frozen', () => {
  const spec = `onnx:${fixture('resnet18')};input=3x32x32;train=^layers\\.3\\.`;
  const built = buildArtifacts({ model: spec, loss: 'ce', classes: 4, input: [3, 32, 32], optimizer: 'sgd', seed: 0 }, readImportedModel(spec));
  const params = built.manifest.carried.filter((c) => c.kind === 'parameter').map((c) => c.name);
  assert.ok(params.includes('head.weight'));
  assert.ok(params.length > 4 && params.every((p) => p.startsWith('layers.3.') || p.startsWith('head.')), params.join(', '));
});

test('head=replace sizes the head by the loss (K-1 thresholds for coral and corn); a model whose output is not a linear layer gets a dense head on top', () => {
  const build = (arch: string, loss: string) => buildArtifacts({ model: `onnx:${fixture(arch)};input=3x32x32`, loss, classes: 5, input: [1, 28, 28], optimizer: 'sgd', seed: 0 }, readImportedModel(`onnx:${fixture(arch)};input=3x32x32`));
  const shape = (b: ReturnType<typeof build>, name: string) => b.manifest.carried.find((c) => c.name === name)!.shape;
  assert.deepEqual(shape(build('resnet18', 'coral'), 'head.thresholds'), [4]);
  assert.deepEqual(shape(build('mobilenet_v3_small', 'corn'), 'head.weight')[1], 4);
  assert.deepEqual(shape(build('squeezenet1_1', 'ce'), 'head.weight'), [10, 5]); // its 1x1-conv classifier stays; a dense head reads its output
});

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('lossgraph train on an imported model learns: the Fashion-MNIST subset (grey 28x28 made RGB 32x32) and a folder of JPEGs', async () => {
  const out = join(tmp(), 'fm');
  const r = cli(['train', '--data', 'fashion-mnist:datasets/fashion-mnist-subset', '--model', `onnx:${fixture('resnet18')};input=3x32x32;head=replace;train=head;bn=train`, '--epochs', '3', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const fm = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.ok(fm.test.accuracy > 0.3, `accuracy ${fm.test.accuracy} (chance 0.1)`);

  const { Jimp } = await import('jimp');
  const dir = tmp();
  const colours = { red: 0xd03020ff, blue: 0x2040d0ff };
  for (const [cls, colour] of Object.entries(colours)) {
    mkdirSync(join(dir, cls));
    for (let i = 0; i < 24; i++) {
      const img = new Jimp({ width: 16, height: 16, color: colour });
      for (let p = 0; p < 16; p++) img.setPixelColor(((i * 37 + p * 11) % 255) * 0x01010100 + 0xff, (p * 5 + i) % 16, (p * 3 + i * 7) % 16);
      writeFileSync(join(dir, cls, `${i}.jpg`), await img.getBuffer('image/jpeg'));
    }
  }
  const j = cli(['train', '--data', `folder:${dir}`, '--image-size', '3x16x16', '--model', `onnx:${fixture('resnet18')};input=3x32x32;train=head;bn=train`, '--epochs', '4', '--batch', '8', '--lr', '0.01', '--out', join(tmp(), 'jpg'), '--json']);
  assert.equal(j.code, 0, j.stderr);
  const jpg = JSON.parse(j.stdout.trim().split('\n').pop()!);
  assert.ok(jpg.test.accuracy >= 0.75, `accuracy ${jpg.test.accuracy} on two colours`);
});

test('bad models: one line naming the file and node, exit code 2, nothing written', () => {
  const dir = tmp();
  const bytes = readFileSync(fixture('shufflenet_v2_x1_0'));
  const truncated = join(dir, 'truncated.onnx');
  writeFileSync(truncated, bytes.subarray(0, 5000));
  const model = decodeModel(bytes);
  const unsupported = join(dir, 'lstm.onnx');
  const withLstm = decodeModel(bytes);
  withLstm.graph!.node![3]!.opType = 'LSTM';
  writeFileSync(unsupported, encodeModel(withLstm));
  const dynamic = join(dir, 'dynamic.onnx');
  const dyn = decodeModel(bytes);
  for (const d of dyn.graph!.input![0]!.type!.tensorType!.shape!.dim!.slice(2)) Object.assign(d, { dimValue: undefined, dimParam: 'side' });
  writeFileSync(dynamic, encodeModel(dyn));
  const shapeValue = model.graph!.node!.find((n) => n.opType === 'Shape')!.output![0]!;
  const cases: [string, RegExp][] = [
    [`onnx:${truncated}`, /truncated\.onnx: not (a readable ONNX model|an ONNX model with a graph)/],
    [`onnx:${unsupported}`, /lstm\.onnx: node '[^']+' \(LSTM\): lossgraph cannot import or differentiate op LSTM/],
    [`onnx:${dynamic}`, /dynamic\.onnx: input 'image' has symbolic dims \[batch, 3, side, side\]; say the size with ;input=CxHxW/],
    [`onnx:${fixture('shufflenet_v2_x1_0')};head=keep;output=${shapeValue}`, /is int64, not a floating-point tensor/],
    [`onnx:${join(dir, 'missing.onnx')}`, /cannot read the model file \(ENOENT\)/],
    [`onnx:${fixture('resnet18')};train=(`, /train=\( is not a regular expression/],
  ];
  for (const [model, expected] of cases) {
    const out = join(dir, 'out');
    const r = cli(['build', '--model', model, '--loss', 'ce', '--classes', '10', '--input', '3x32x32', '--out', out]);
    assert.equal(r.code, 2, `${model}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, expected);
  }
});

test('weights in an external-data file are read from beside the model, and give the same graphs as inline weights', () => {
  const dir = tmp();
  const model = decodeModel(readFileSync(fixture('resnet18')));
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of model.graph!.initializer!) {
    const raw = Buffer.from(t.rawData!);
    chunks.push(raw);
    Object.assign(t, { rawData: new Uint8Array(0), dataLocation: 1, externalData: [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(raw.length) }] });
    offset += raw.length;
  }
  writeFileSync(join(dir, 'weights.bin'), Buffer.concat(chunks));
  writeFileSync(join(dir, 'model.onnx'), encodeModel(model));
  const build = (path: string) => {
    const spec = `onnx:${path};input=3x32x32;train=all`;
    return buildArtifacts({ model: spec, loss: 'ce', classes: 3, input: [3, 32, 32], optimizer: 'sgd', seed: 0 }, readImportedModel(spec));
  };
  const [inline, external] = [build(fixture('resnet18')), build(join(dir, 'model.onnx'))];
  // The same tensors (the checkpoint's metadata names the model's path, which differs).
  const tensors = (b: typeof inline) => decodeSafetensors(b.files[FILES.checkpoint]!, 'checkpoint').tensors.map((t) => [t.name, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]);
  assert.deepEqual(tensors(external), tensors(inline));
  assert.deepEqual(Buffer.from(external.files[FILES.training]!), Buffer.from(inline.files[FILES.training]!));
  // A location outside the model's folder is refused.
  model.graph!.initializer![0]!.externalData![0]!.value = '../elsewhere.bin';
  writeFileSync(join(dir, 'escape.onnx'), encodeModel(model));
  assert.throws(() => readImportedModel(`onnx:${join(dir, 'escape.onnx')}`), /external data '\.\.\/elsewhere\.bin' lies outside the model's folder/);
});

test('a frozen body\'s features are computed once: the head trains on them with the same results as full forward passes, and the full model scores the same', () => {
  const model = `onnx:${fixture('mobilenet_v3_small')};input=3x32x32;train=head`;
  const args = (out: string, ...extra: string[]) => ['train', '--data', 'fashion-mnist:datasets/fashion-mnist-subset', '--model', model, '--epochs', '2', '--lr', '0.01', '--out', out, '--json', ...extra];
  const [a, b] = [join(tmp(), 'cached'), join(tmp(), 'full')];
  const cached = cli(args(a));
  const full = cli(args(b, '--no-feature-cache'));
  assert.equal(cached.code, 0, cached.stderr);
  assert.equal(full.code, 0, full.stderr);
  const [rc, rf] = [cached, full].map((r) => JSON.parse(r.stdout.trim().split('\n').pop()!));
  assert.equal(rc.test.accuracy, rf.test.accuracy);
  assert.ok(Math.abs(rc.test.loss - rf.test.loss) < 1e-5, `test loss ${rc.test.loss} with cached features, ${rf.test.loss} without`);
  // The cached run's checkpoint is the full model's: eval (images through the whole model) scores what training reported.
  const ev = cli(['eval', '--run', a, '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const scored = JSON.parse(ev.stdout.trim().split('\n').pop()!);
  assert.equal((scored.test ?? scored).accuracy, rc.test.accuracy);
});
