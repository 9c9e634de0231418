// Dropout's exact-float mask hash (the WebGPU target's form): the graph gives
// bit for bit what an integer implementation in plain JavaScript gives, its
// numbers look uniform and independent, and WebGPU-target models with dropout
// train identically on onnxruntime-node and -web.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildArtifacts, type ArtifactSpec } from '../src/artifacts/build.ts';
import { ArgumentError } from '../src/errors.ts';
import { Graph } from '../src/graph/graph.ts';
import { FINAL_ROUNDS, ROUND_KEYS, keepUniformExactFloat } from '../src/models/dropout.ts';
import { Rng } from '../src/models/random.ts';
import { Session, type RuntimeName } from '../src/runtime/session.ts';
import { TrainingSession } from '../src/runtime/training.ts';

// The reference: the same hash in integers, with % and Math.trunc instead of float tricks.
const W = 4096;
const mod = (v: number) => ((v % W) + W) % W;
function roundFn(v: number, k: number): number {
  const [a, b] = ROUND_KEYS[k % ROUND_KEYS.length]!;
  const y = mod(v * a + b);
  const s = y * y + b;
  return mod(Math.trunc(s / W) + s);
}
function rounds([L, R]: number[], first: number, n: number): number[] {
  for (let i = 0; i < n; i++) [L, R] = [R!, mod(L! + roundFn(R!, first + i))];
  return [L!, R!];
}
const absorb = (s: number[], w: number, first: number) => rounds([mod(s[0]! + mod(w)), mod(s[1]! + Math.floor(w / W))], first, 2);
function referenceUniform(seed: number, step: number, layer: number, row: number, col: number): number {
  let key = [layer % W, 0];
  key = absorb(key, seed, 0);
  key = absorb(key, step, 2);
  const c = absorb(key, col, 4);
  const r = absorb([0, 0], row, 6);
  const [L, R] = rounds([mod(c[0]! + r[0]!), mod(c[1]! + r[1]!)], 1, FINAL_ROUNDS);
  return (L! * W + R!) / 2 ** 24;
}

async function graphUniform(rows: number, cols: number, seed: number, step: number, layer: number): Promise<Float32Array> {
  const g = new Graph('hash', 'webgpu');
  const x = g.input('x', 'float32', ['batch', cols]);
  g.output(keepUniformExactFloat(g, x, g.input('seed', 'int32', []), g.input('step', 'int32', []), layer), 'u');
  const s = await Session.create(g.toBytes());
  const out = await s.run({
    x: s.tensor('float32', new Float32Array(rows * cols), [rows, cols]),
    seed: s.tensor('int32', new Int32Array([seed]), []),
    step: s.tensor('int32', new Int32Array([step]), []),
  });
  await s.release();
  return out.u!.data as Float32Array;
}

test('the exact-float dropout hash equals its integer reference bit for bit (seeds up to 2^24, negative seeds, layers)', async () => {
  for (const [seed, step, layer] of [[1, 1, 0], [0, 12345, 2], [-7, 3, 1], [2 ** 24 - 1, 2 ** 24 - 1, 5], [-(2 ** 24) + 1, 99, 0]] as const) {
    const [rows, cols] = [37, 130];
    const u = await graphUniform(rows, cols, seed, step, layer);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const want = referenceUniform(seed, step, layer, r, c);
        assert.equal(u[r * cols + c], want, `seed ${seed}, step ${step}, layer ${layer}, element (${r}, ${c})`);
      }
    }
  }
});

test('the exact-float dropout hash looks uniform and independent: chi-square, neighbours, steps, layers', async () => {
  const [rows, cols] = [128, 512];
  const bins = 64;
  for (const [seed, step] of [[1, 1], [977, 40], [5, 100000]] as const) {
    const u = await graphUniform(rows, cols, seed, step, 0);
    const counts = new Array<number>(bins).fill(0);
    for (const v of u) {
      assert.ok(v >= 0 && v < 1);
      counts[Math.floor(v * bins)]!++;
    }
    const expected = u.length / bins;
    const chi = counts.reduce((a, n) => a + (n - expected) ** 2 / expected, 0);
    // chi-square with 63 degrees of freedom: 99.9th percentile is 103.4.
    assert.ok(chi < 103.4, `seed ${seed} step ${step}: chi-square ${chi.toFixed(1)}`);
    // Correlation of keep indicators (rate 0.5) between neighbours, the next step and the next layer.
    const next = await graphUniform(rows, cols, seed, step + 1, 0);
    const layer1 = await graphUniform(rows, cols, seed, step, 1);
    const corr = (a: (i: number) => number, b: (i: number) => number, n: number) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += (a(i) - 0.5) * (b(i) - 0.5);
      return s / n / 0.25;
    };
    const keep = (arr: Float32Array) => (i: number) => (arr[i]! >= 0.5 ? 1 : 0);
    // 4 standard errors of a correlation over ~65,000 pairs is 0.016.
    const bound = 4 / Math.sqrt(rows * cols);
    const checks = {
      column: corr(keep(u), (i) => keep(u)(i + 1), rows * cols - 1),
      row: corr(keep(u), (i) => keep(u)(i + cols), (rows - 1) * cols),
      step: corr(keep(u), keep(next), rows * cols),
      layer: corr(keep(u), keep(layer1), rows * cols),
    };
    for (const [what, c] of Object.entries(checks)) assert.ok(Math.abs(c) < bound, `seed ${seed} step ${step}: ${what} correlation ${c.toFixed(4)} (bound ${bound.toFixed(4)})`);
  }
});

const spec: ArtifactSpec = { model: 'cnn:4,8;dropout=0.5', loss: 'ce', classes: 5, input: [1, 12, 12], optimizer: 'adamw', seed: 3, target: 'webgpu' };

test('WebGPU-target models with dropout: the same trajectory on onnxruntime-node and -web, masks differ between steps', async () => {
  const built = buildArtifacts(spec);
  const r = new Rng(4);
  const batch = { images: Float32Array.from({ length: 8 * 144 }, () => r.next()), labels: BigInt64Array.from({ length: 8 }, () => BigInt(r.int(5))) };
  const run = async (runtime: RuntimeName, lr: number) => {
    const s = await TrainingSession.fromBuilt(built, { runtime });
    const losses = [];
    for (let i = 0; i < 4; i++) losses.push(await s.runTrainStep(batch, lr));
    await s.release();
    return losses;
  };
  const [node, web] = [await run('node', 0.01), await run('web', 0.01)];
  for (let i = 0; i < node.length; i++) assert.ok(Math.abs(node[i]! - web[i]!) <= 1e-5 * Math.abs(node[i]!), `step ${i + 1}: node ${node[i]} web ${web[i]}`);
  const still = await run('node', 0);
  assert.notEqual(still[0], still[1], 'with lr 0 only the mask changes between steps');
  assert.deepEqual(await run('node', 0), still, 'the same seed and steps give the same masks');
});

test('--target webgpu refuses a seed its exact-float dropout hash cannot hold', () => {
  assert.throws(() => buildArtifacts({ ...spec, seed: 2 ** 24 }), (e: unknown) => e instanceof ArgumentError && /^seed 16777216: for the webgpu target/.test(e.message));
});
