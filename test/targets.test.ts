// Every loss trainable from data: multi-label CSVs and image folders (bce,
// multi-label minmax), regression targets (raw mse / l1), a teacher run's
// soft targets (kl distillation), class and importance weights, and the
// metrics that go with them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Jimp } from 'jimp';
import { loadData } from '../src/data/index.ts';
import { splitDataset } from '../src/data/dataset.ts';
import { Rng } from '../src/models/random.ts';
import { DEFAULT_CONFIG, balancedClassWeights, type RunConfig } from '../src/train/config.ts';
import { runTraining } from '../src/train/driver.ts';
import { meanInterval, multiLabelMetrics } from '../src/train/metrics.ts';

const BIN = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'lossgraph-targets-'));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);

/** 600 rows of 4 features; tags a, b, c are thresholds of linear functions of them; y1, y2 are linear in them. */
function writeTabular(dir: string): string {
  const r = new Rng(7);
  const lines = ['f1,f2,f3,f4,tag_a,tag_b,tag_c,y1,y2'];
  for (let i = 0; i < 600; i++) {
    const f = Array.from({ length: 4 }, () => r.normal());
    const tags = [f[0]! + f[1]! > 0, f[2]! > 0.3, f[3]! - f[0]! > -0.2].map((b) => (b ? 1 : 0));
    const y = [2 * f[0]! - f[2]! + 0.5, f[1]! + f[3]!];
    lines.push([...f.map((v) => v.toFixed(4)), ...tags, ...y.map((v) => v.toFixed(4))].join(','));
  }
  const path = join(dir, 'table.csv');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

test('multi-label CSV: bce and multi-label minmax train end to end; subset accuracy, per-class F1 and mAP reported', () => {
  const dir = tmp();
  const csv = writeTabular(dir);
  const cols = ['--data', `csv:${csv}`, '--label-columns', 'tag_*', '--target-columns', 'y1'];
  const both = cli(['train', ...cols, '--out', join(dir, 'x')]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--label-column, --label-columns and --target-columns exclude each other/);

  const bce = cli(['train', '--data', `csv:${csv}`, '--label-columns', 'tag_*', '--model', 'mlp:32', '--loss', 'bce', '--epochs', '15', '--batch', '32', '--lr', '0.01', '--out', join(dir, 'bce'), '--json']);
  assert.equal(bce.code, 0, bce.stderr);
  const r = lastJson(bce.stdout);
  assert.deepEqual(Object.keys(r.test).sort(), ['loss', 'mAP', 'macro_f1', 'precision_at_1', 'subset_accuracy']);
  assert.deepEqual(Object.keys(r.f1), ['tag_a', 'tag_b', 'tag_c']);
  // The tags are linear thresholds of the features: an MLP gets nearly all of them.
  assert.ok(r.test.mAP > 0.95 && r.test.subset_accuracy > 0.8, JSON.stringify(r.test));
  assert.ok(readFileSync(join(dir, 'bce', 'report.html'), 'utf8').includes('<svg'));

  const mm = cli(['train', '--data', `csv:${csv}`, '--label-columns', 'tag_a,tag_b,tag_c', '--model', 'mlp:32', '--loss', 'minmax(labels=multi)', '--epochs', '15', '--batch', '32', '--lr', '0.01', '--out', join(dir, 'minmax'), '--json']);
  assert.equal(mm.code, 0, mm.stderr);
  const m = lastJson(mm.stdout);
  assert.ok(m.test.mAP > 0.8, `minmax mAP ${m.test.mAP}`);

  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, 'f1,tag_a,tag_b\n0.5,1,0\n0.1,2,1\n');
  const e = cli(['train', '--data', `csv:${bad}`, '--label-columns', 'tag_*', '--loss', 'bce', '--out', join(dir, 'bad')]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /bad\.csv:3: label column 'tag_a' holds '2'; multi-label columns hold 0 or 1/);
  const ce = cli(['train', '--data', `csv:${csv}`, '--label-columns', 'tag_*', '--loss', 'ce + bce', '--out', join(dir, 'ce')]);
  assert.equal(ce.code, 2);
  assert.match(ce.stderr, /is multi-label, but 'ce' reads one label per example; use terms that read the label sets, e.g. bce or minmax\(labels=multi\)/);
  const none = cli(['train', '--data', `csv:${csv}`, '--label-columns', 'nope_*', '--loss', 'bce', '--out', join(dir, 'none')]);
  assert.match(none.stderr, /--label-columns nope_\* matches no column \(columns: f1, f2/);
});

test('multi-label metrics against a hand computation', () => {
  // 3 samples, 2 classes. Scores > 0.5 are on.
  const targets = Float32Array.from([1, 0, 1, 1, 0, 1]);
  const scores = Float32Array.from([0.9, 0.2, 0.8, 0.4, 0.3, 0.6]);
  const m = multiLabelMetrics(0, targets, scores, 2);
  assert.equal(m.accuracy, 2 / 3); // rows 1 and 3 exactly right
  assert.equal(m.topK, 1); // each row's top class is a positive
  // class 0: tp 2, fp 0, fn 0 -> F1 1; class 1: tp 1, fp 0, fn 1 -> 2/3.
  assert.deepEqual(m.f1, [1, 2 / 3]);
  // AP class 0: positives ranked 1, 2 -> 1. Class 1: order 0.6 (pos), 0.4 (pos), 0.2 -> 1.
  assert.equal(m.mAP, 1);
  const flipped = multiLabelMetrics(0, targets, Float32Array.from([0.9, 0.7, 0.8, 0.4, 0.3, 0.6]), 2);
  // class 1 order: 0.7 (neg), 0.6 (pos), 0.4 (pos): AP = (1/2 + 2/3) / 2.
  assert.ok(Math.abs(flipped.mAP! - (1 + (1 / 2 + 2 / 3) / 2) / 2) < 1e-12);
});

test('images:CSV: several labels per image from a CSV beside the images', async () => {
  const dir = tmp();
  mkdirSync(join(dir, 'img'));
  const r = new Rng(3);
  const rows = ['file,red,blue'];
  for (let i = 0; i < 40; i++) {
    const red = r.next() < 0.5 ? 1 : 0;
    const blue = r.next() < 0.5 ? 1 : 0;
    const color = ((red ? 0xff : 0x20) << 24) | (0x40 << 16) | ((blue ? 0xff : 0x20) << 8) | 0xff;
    writeFileSync(join(dir, 'img', `${i}.png`), await new Jimp({ width: 8, height: 8, color: color >>> 0 }).getBuffer('image/png'));
    rows.push(`img/${i}.png,${red},${blue}`);
  }
  writeFileSync(join(dir, 'labels.csv'), `${rows.join('\n')}\n`);
  const d = await loadData(`images:${join(dir, 'labels.csv')}`, { imageSize: [3, 8, 8] });
  assert.equal(d.task, 'multilabel');
  assert.deepEqual(d.classNames, ['red', 'blue']);
  assert.equal(d.count, 40);
  const red0 = Number(rows[1]!.split(',')[1]);
  assert.equal(d.targets![0], red0);
  const res = cli(['train', '--data', `images:${join(dir, 'labels.csv')}`, '--image-size', '3x8x8', '--model', 'mlp:16', '--loss', 'bce', '--epochs', '20', '--batch', '8', '--lr', '0.01', '--out', join(dir, 'run'), '--json']);
  assert.equal(res.code, 0, res.stderr);
  assert.ok(lastJson(res.stdout).test.mAP > 0.9, res.stdout);
  writeFileSync(join(dir, 'nofile.csv'), 'path,red,blue\na.png,1,0\n');
  await assert.rejects(loadData(`images:${join(dir, 'nofile.csv')}`), /nofile\.csv: no 'file' column \(columns: path, red, blue\)/);
  writeFileSync(join(dir, 'missing.csv'), 'file,red,blue\nimg/0.png,1,0\nimg/nope.png,0,1\n');
  await assert.rejects(loadData(`images:${join(dir, 'missing.csv')}`, { imageSize: [3, 8, 8] }), /nope\.png/);
  const skipped = await loadData(`images:${join(dir, 'missing.csv')}`, { imageSize: [3, 8, 8], skipBad: true });
  assert.equal(skipped.count, 1);
  assert.equal(skipped.skipped, 1);
  assert.deepEqual(Array.from(skipped.targets!), [1, 0], 'a skipped file takes its targets with it');
});

test('regression: raw mse and l1 train on CSV target columns', () => {
  const dir = tmp();
  const csv = writeTabular(dir);
  for (const loss of ['mse(input=raw)', 'l1(input=raw)']) {
    const r = cli(['train', '--data', `csv:${csv}`, '--target-columns', 'y1,y2', '--model', 'mlp:32', '--loss', loss, '--epochs', '20', '--batch', '32', '--lr', '0.01', '--out', join(dir, loss.slice(0, 2)), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const t = lastJson(r.stdout).test;
    assert.deepEqual(Object.keys(t).sort(), ['loss', 'mae', 'mse']);
    // The targets have variance ~ 5.25 and ~ 2; a linear function of the features: the MLP fits it closely.
    assert.ok(t.mse < 0.1, `${loss}: test MSE ${t.mse}`);
  }
  const wrong = cli(['train', '--data', `csv:${csv}`, '--target-columns', 'y1,y2', '--loss', 'ce', '--out', join(dir, 'ce')]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /has regression targets, which 'ce' does not read; train it with a loss that reads them, e.g. 'mse\(input=raw\)'/);
});

test('class weights: balanced from the training split, or a list; importance weights for coral', async () => {
  const d = await loadData('embedded');
  const train = splitDataset(d, 0).train;
  const w = balancedClassWeights(d, train);
  const counts = w.map((_, k) => Array.from(train).filter((i) => d.labels[i] === k).length);
  w.forEach((v, k) => assert.ok(Math.abs(v * counts[k]! * 6 - train.length) < 1e-9));
  const dir = tmp();
  const base = ['train', '--data', 'embedded', '--model', 'mlp:8', '--epochs', '1', '--json'];
  const ok = cli([...base, '--loss', 'ce', '--class-weights', 'balanced', '--out', join(dir, 'a')]);
  assert.equal(ok.code, 0, ok.stderr);
  const manifest = JSON.parse(readFileSync(join(dir, 'a', 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.spec.classWeights, w);
  assert.equal(cli([...base, '--loss', 'focal', '--class-weights', '1,2,1,1,1,1', '--out', join(dir, 'b')]).code, 0);
  assert.equal(cli([...base, '--loss', 'coral', '--importance-weights', '1,1,0.5,0.5,0.2', '--out', join(dir, 'c')]).code, 0);
  for (const [flag, value, message] of [
    ['--class-weights', '1,2', /--class-weights: 2 class weights for 6 classes/],
    ['--class-weights', '1,2,x,1,1,1', /--class-weights 1,2,x,1,1,1: 'x' is not a number/],
    ['--class-weights', '1,-2,1,1,1,1', /--class-weights: class weight 1 is -2; weights must be finite and >= 0/],
    ['--importance-weights', '1,1', /--importance-weights: 2 importance weights for 5 thresholds \(K-1\)/],
  ] as const) {
    const r = cli([...base, '--loss', flag === '--importance-weights' ? 'coral' : 'ce', flag, value, '--out', join(dir, 'bad')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

test('distillation: a CNN teacher\'s soft targets make a wide MLP beat the same MLP trained with ce, over seeds', async (t) => {
  const data = await loadData('idx:datasets/fashion-mnist-subset');
  const dir = tmp();
  const config = (loss: string, model: string, epochs: number, seed: number, teacher?: string): RunConfig => ({
    ...DEFAULT_CONFIG, data: 'idx:datasets/fashion-mnist-subset', model, loss, epochs, seed, teacher,
  });
  const teacherDir = join(dir, 'teacher');
  const teacher = await runTraining(config('ce', 'cnn:32,64', 8, 0), teacherDir, {}, { data });
  t.diagnostic(`teacher cnn:32,64: test accuracy ${teacher.test.accuracy.toFixed(3)}`);
  // A wide MLP trained for 20 epochs overfits the 3,600 training images with ce; the teacher's soft targets regularise it.
  const diffs: number[] = [];
  for (const seed of [0, 1, 2]) {
    const ce = await runTraining(config('ce', 'mlp:512', 20, seed), join(dir, `ce-${seed}`), {}, { data });
    const kd = await runTraining(config('0.5*ce + 0.5*kl(T=4)', 'mlp:512', 20, seed, teacherDir), join(dir, `kd-${seed}`), {}, { data });
    diffs.push(kd.test.accuracy - ce.test.accuracy);
    t.diagnostic(`seed ${seed}: ce ${ce.test.accuracy.toFixed(3)}, distilled ${kd.test.accuracy.toFixed(3)}`);
  }
  const { mean, half } = meanInterval(diffs);
  t.diagnostic(`distilled - ce accuracy: ${mean.toFixed(4)} ± ${half.toFixed(4)} (95% interval, 3 seeds)`);
  assert.ok(mean > 0, `the distilled student is not better on average: ${diffs}`);
  assert.ok(teacher.test.accuracy > 0.84, `the teacher is weak: ${teacher.test.accuracy}`);
});

test('--teacher errors: a loss without targets, a teacher with another class count', async () => {
  const dir = tmp();
  const teacher = join(dir, 'teacher');
  assert.equal(cli(['train', '--data', 'embedded', '--model', 'mlp:8', '--epochs', '1', '--loss', 'ce', '--out', teacher, '--json']).code, 0);
  const noKl = cli(['train', '--data', 'embedded', '--model', 'mlp:8', '--epochs', '1', '--loss', 'ce', '--teacher', teacher, '--out', join(dir, 'a')]);
  assert.match(noKl.stderr, /--teacher: loss 'ce' reads no targets; add a kl term/);
  const other = cli(['train', '--data', 'idx:datasets/fashion-mnist-subset', '--model', 'mlp:8', '--epochs', '1', '--loss', 'kl', '--teacher', teacher, '--out', join(dir, 'b')]);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /--teacher .*teacher: it has 6 classes, the data has 10/);
  const twoT = cli(['train', '--data', 'embedded', '--model', 'mlp:8', '--epochs', '1', '--loss', 'kl(T=2) + kl(T=3)', '--teacher', teacher, '--out', join(dir, 'c')]);
  assert.match(twoT.stderr, /the loss has several temperatures \(2, 3\); use one/);
});

test('the compiler picks node forms by target only through graph/forms.ts\'s table (no module tests g.target itself)', async () => {
  const { FORMS } = await import('../src/graph/forms.ts');
  const { TARGETS } = await import('../src/graph/graph.ts');
  assert.deepEqual(Object.keys(FORMS).sort(), [...TARGETS].sort(), 'a row of forms for every target');
  const src = fileURLToPath(new URL('../src/', import.meta.url));
  const found: string[] = [];
  for (const dir of ['graph', 'graph/ops', 'autograd', 'autograd/rules', 'losses', 'models', 'optim']) {
    for (const f of readdirSync(join(src, dir)).filter((n) => n.endsWith('.ts'))) {
      if (`${dir}/${f}` === 'graph/forms.ts') continue;
      readFileSync(join(src, dir, f), 'utf8').split('\n').forEach((line, i) => {
        if (/\bg\.target\b|this\.g\.target\b|\.target\s*[!=]==/.test(line)) found.push(`src/${dir}/${f}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  assert.deepEqual(found, []);
});
