// Every loss against its definition (test/helpers/reference.ts): the value,
// the gradient (against central differences of the definition), at ordinary
// logits and at |z| = 1e4, in float64 and float32.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runLossProbe, type LossProbeInput } from '../src/cli/loss.ts';
import { Rng } from '../src/models/random.ts';
import * as ref from './helpers/reference.ts';

const B = 4;
const K = 5;
const D = 3;
const GROUPS = [0, 0, 1, 1, 2];
const LEVELS = { family: [0, 0, 1, 1, 2], kingdom: [0, 0, 0, 1, 1] };

type Extra = 'importance' | 'targets' | 'distributions' | 'multihot' | 'weights' | 'groups' | 'levels' | 'embeddings' | 'ignored';

interface LossCase {
  spec: string;
  params?: Record<string, number>;
  /** Logit width: K, K-1 (ordinal thresholds) or D (embedding). */
  width?: number;
  extra?: Extra[];
  ref: (x: LossProbeInput) => number;
}

const cases: LossCase[] = [
  { spec: 'ce', ref: (x) => ref.ce(x) },
  { spec: 'ce', extra: ['weights'], ref: (x) => ref.ce(x) },
  { spec: 'ce(ignore_index=-1)', extra: ['weights', 'ignored'], ref: (x) => ref.ce(x, { ignore: -1 }) },
  { spec: 'ce(reduction=sum)', ref: (x) => ref.ce(x, { reduction: 'sum' }) },
  { spec: 'label_smoothing(eps=0.1)', ref: (x) => ref.labelSmoothing(x, 0.1) },
  { spec: 'label_smoothing(eps=0.2, ignore_index=-1)', extra: ['weights', 'ignored'], ref: (x) => ref.labelSmoothing(x, 0.2, { ignore: -1 }) },
  { spec: 'sparse_lsr(eps=0.1)', ref: (x) => ref.sparseLsr(x, 0.1) },
  { spec: 'sparse_lsr(eps=0.1, variant=published)', ref: (x) => ref.sparseLsr(x, 0.1, 'published') },
  { spec: 'focal', ref: (x) => ref.focal(x, 2) },
  { spec: 'focal(gamma=0.5, ignore_index=-1)', extra: ['weights', 'ignored'], ref: (x) => ref.focal(x, 0.5, { ignore: -1 }) },
  { spec: 'focal(gamma=0)', ref: (x) => ref.ce(x) },
  { spec: 'focal(gamma=1, reduction=sum)', ref: (x) => ref.focal(x, 1, { reduction: 'sum' }) },
  { spec: 'focal(gamma=5)', ref: (x) => ref.focal(x, 5) },
  { spec: 'kl', extra: ['distributions'], ref: (x) => ref.kl(x) },
  { spec: 'kl(T=2)', extra: ['distributions'], ref: (x) => ref.kl(x, 2) },
  { spec: 'gaussian_kl(sigma=2)', ref: (x) => ref.gaussianKl(x, 2) },
  { spec: 'ce + 0.5*gaussian_kl(sigma=1)', ref: (x) => ref.ce(x) + 0.5 * ref.gaussianKl(x, 1) },
  { spec: 'ce + alpha*gaussian_kl(sigma)', params: { alpha: 0.3, sigma: 0.7 }, ref: (x) => ref.ce(x) + 0.3 * ref.gaussianKl(x, 0.7) },
  { spec: '0.7*ce + 0.3*hierarchical', extra: ['groups'], ref: (x) => 0.7 * ref.ce(x) + 0.3 * ref.hierarchical(x, GROUPS) },
  { spec: 'w*ce + (1-w)*hierarchical', params: { w: 0.25 }, extra: ['groups'], ref: (x) => 0.25 * ref.ce(x) + 0.75 * ref.hierarchical(x, GROUPS) },
  {
    spec: '0.5*ce + 0.3*hierarchical(level=family) + 0.2*hierarchical(level=kingdom)',
    extra: ['levels'],
    ref: (x) => 0.5 * ref.ce(x) + 0.3 * ref.hierarchical(x, LEVELS.family) + 0.2 * ref.hierarchical(x, LEVELS.kingdom),
  },
  { spec: 'mse', ref: (x) => ref.mse(x) },
  { spec: 'mse(input=raw)', extra: ['targets'], ref: (x) => ref.mse(x, 'raw') },
  { spec: 'l1', ref: (x) => ref.l1(x) },
  { spec: 'l1(input=raw)', extra: ['targets'], ref: (x) => ref.l1(x, 'raw') },
  { spec: 'bce', extra: ['multihot'], ref: (x) => ref.bce(x) },
  { spec: 'coral', width: K - 1, ref: (x) => ref.coral(x) },
  { spec: 'corn', width: K - 1, ref: (x) => ref.corn(x) },
  { spec: 'coral', width: K - 1, extra: ['importance'], ref: (x) => ref.coral(x) },
  { spec: 'corn', width: K - 1, extra: ['importance'], ref: (x) => ref.corn(x) },
  { spec: 'minmax', width: D, extra: ['embeddings'], ref: (x) => ref.minmax(x) },
  { spec: 'minmax(distance=l2, lambda=0.5, margin=3)', width: D, extra: ['embeddings'], ref: (x) => ref.minmax(x, { distance: 'l2', lambda: 0.5, margin: 3 }) },
  { spec: 'minmax(labels=multi)', width: D, extra: ['embeddings', 'multihot'], ref: (x) => ref.minmax(x) },
  { spec: 'minmax(push=seed, lambda=0.7)', width: D, extra: ['embeddings'], ref: (x) => ref.minmax(x, { push: 'seed', lambda: 0.7 }) },
  { spec: 'minmax(push=seed, labels=multi)', width: D, extra: ['embeddings', 'multihot'], ref: (x) => ref.minmax(x, { push: 'seed' }) },
  { spec: 'gaussian_kl(sigma=0.5, reduction=sum)', ref: (x) => ref.gaussianKl(x, 0.5, 'sum') },
  { spec: 'mse(reduction=sum_half)', ref: (x) => ref.mse(x, 'softmax', 'sum_half') },
  { spec: 'kl(T=3, reduction=sum)', extra: ['distributions'], ref: (x) => ref.kl(x, 3) * B },
  // One ignore_index for the whole spec: the ignored sample leaves every term and every denominator.
  { spec: 'ce(ignore_index=-1) + sparse_lsr + 0.5*gaussian_kl + hierarchical', extra: ['ignored', 'groups'], ref: (x) => {
    const kept = keptOnly(x, -1);
    return ref.ce(kept) + ref.sparseLsr(kept, 0.1) + 0.5 * ref.gaussianKl(kept, 1) + ref.hierarchical(kept, GROUPS);
  } },
];

/** The input without the samples whose label is `ignore`. */
function keptOnly(x: LossProbeInput, ignore: number): LossProbeInput {
  const keep = x.labels.map((y) => y !== ignore);
  const pick = <T>(rows: T[] | undefined) => rows?.filter((_, i) => keep[i]);
  return { ...x, logits: pick(x.logits)!, labels: pick(x.labels)!, targets: pick(x.targets) };
}

function makeInput(c: LossCase, seed: number, scale: number): LossProbeInput {
  const r = new Rng(seed);
  const width = c.width ?? K;
  const extra = new Set(c.extra ?? []);
  // At |z| = 1e4 the logits are +-1e4 or 0: saturated softmax and sigmoid, and ties.
  // Embeddings get no 0 entries: an all-zero feature row has no direction to take a cosine of.
  const extremes = c.width === D ? [-scale, scale] : [-scale, 0, scale];
  const logit = () => (scale > 100 ? extremes[r.int(extremes.length)]! : r.normal() * scale);
  const x: LossProbeInput = {
    logits: Array.from({ length: B }, () => Array.from({ length: width }, logit)),
    labels: Array.from({ length: B }, (_, i) => (i === 0 ? K - 1 : r.int(K))),
  };
  if (extra.has('ignored')) x.labels[1] = -1;
  if (extra.has('importance')) x.importance = Array.from({ length: K - 1 }, () => r.uniform(0.2, 2));
  if (extra.has('weights')) x.weights = Array.from({ length: K }, () => r.uniform(0.5, 2));
  if (extra.has('targets')) x.targets = Array.from({ length: B }, () => Array.from({ length: K }, () => r.normal()));
  if (extra.has('multihot')) x.targets = Array.from({ length: B }, (_, i) => Array.from({ length: K }, (_, k) => (k === i % K || r.next() < 0.3 ? 1 : 0)));
  if (extra.has('distributions')) {
    // Soft targets with exact zeros, to exercise 0 log 0 = 0.
    x.targets = Array.from({ length: B }, () => {
      const w = Array.from({ length: K }, (_, k) => (k % 2 === 1 ? 0 : r.uniform(0.1, 1)));
      const s = w.reduce((a, b) => a + b, 0);
      return w.map((v) => v / s);
    });
  }
  if (extra.has('groups')) x.hierarchy = { coarse: GROUPS };
  if (extra.has('levels')) x.hierarchy = LEVELS;
  if (extra.has('embeddings')) x.embeddings = Array.from({ length: K }, () => Array.from({ length: D }, () => r.normal()));
  return x;
}

function assertNear(actual: number, expected: number, tol: number, what: string) {
  assert.ok(Number.isFinite(actual), `${what} is ${actual}`);
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

for (const [n, c] of cases.entries()) {
  const label = `${c.spec}${c.extra ? ` [${c.extra.join(', ')}]` : ''}`;

  test(`${label}: value and gradient match the definition`, async () => {
    const x = makeInput(c, 10 + n, 3);
    const out = await runLossProbe(c.spec, x, c.params);
    assertNear(out.loss, c.ref(x), 1e-6, 'loss');
    const { grad: numeric, rounding } = ref.numericGrad(c.ref, x);
    assert.ok(rounding < 1e-7, `finite differences too coarse here (${rounding})`);
    numeric.forEach((row, i) => row.forEach((v, k) => assertNear(out.grad[i]![k]!, v, 1e-6 + rounding, `grad[${i}][${k}]`)));
  });

  test(`${label}: finite and exact at |z| = 1e4`, async () => {
    const x = makeInput(c, 20 + n, 1e4);
    const expected = c.ref(x);
    // An absolute step: at |z| = 1e4 a relative one would straddle the softmax's bends.
    // Where the loss itself is huge (squared errors of 1e4), differences of it carry
    // rounding error of about eps * |loss| / h, which widens the tolerance accordingly.
    const { grad: numeric, rounding } = ref.numericGrad(c.ref, x, 1e-4);
    const f64 = await runLossProbe(c.spec, x, c.params);
    assertNear(f64.loss, expected, 1e-6, 'float64 loss');
    numeric.forEach((row, i) => row.forEach((v, k) => assertNear(f64.grad[i]![k]!, v, 1e-6 + rounding, `float64 grad[${i}][${k}]`)));
    // float32: finite, and as exact as float64 to 1e-6. Every loss takes its
    // differences of logits before any 1e4-sized intermediate is rounded (a
    // log-sum-exp of 1e4 + log 2 keeps only ~1e-3 of its fraction), and no
    // gradient is the difference of two 1e4-sized terms (focal's was: issue 26).
    const f32 = await runLossProbe(c.spec, x, c.params, 'float32');
    const conditioning = 1e-6;
    assertNear(f32.loss, expected, 1e-5, 'float32 loss');
    numeric.forEach((row, i) => row.forEach((v, k) => assertNear(f32.grad[i]![k]!, v, conditioning + rounding, `float32 grad[${i}][${k}]`)));
  });
}
