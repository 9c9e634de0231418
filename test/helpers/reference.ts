// Plain float64 JavaScript definitions of every loss, written from the
// formulas (not from the graph code), to test the emitted graphs against.
// Each takes the probe's input and returns the loss value.
import type { LossProbeInput } from '../../src/cli/loss.ts';

type Row = number[];

export function logSumExp(row: Row): number {
  const m = Math.max(...row);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
}

export function logSoftmax(row: Row): Row {
  const l = logSumExp(row);
  return row.map((v) => v - l);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** log(1 + e^z) without overflow. */
export function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

export function ce(x: LossProbeInput, o: { ignore?: number; reduction?: 'mean' | 'sum' } = {}): number {
  const ignore = o.ignore ?? -100;
  let num = 0;
  let den = 0;
  x.logits.forEach((z, i) => {
    const y = x.labels[i]!;
    if (y === ignore) return;
    const w = x.weights ? x.weights[y]! : 1;
    num += -w * logSoftmax(z)[y]!;
    den += w;
  });
  return o.reduction === 'sum' ? num : num / den;
}

/** PyTorch CrossEntropyLoss(label_smoothing=eps, weight, ignore_index). */
export function labelSmoothing(x: LossProbeInput, eps: number, o: { ignore?: number; reduction?: 'mean' | 'sum' } = {}): number {
  const ignore = o.ignore ?? -100;
  const k = x.logits[0]!.length;
  let nll = 0;
  let smooth = 0;
  let den = 0;
  x.logits.forEach((z, i) => {
    const y = x.labels[i]!;
    if (y === ignore) return;
    const lp = logSoftmax(z);
    const w = x.weights ?? lp.map(() => 1);
    nll += -w[y]! * lp[y]!;
    smooth += -sum(lp.map((v, c) => w[c]! * v));
    den += w[y]!;
  });
  const d = o.reduction === 'sum' ? 1 : den;
  return (1 - eps) * (nll / d) + (eps / k) * (smooth / d);
}

/**
 * Seed 001's loss with the sign derived from first principles, 1 - p_y taken
 * exactly as the probability mass of the other classes; or the seed's code
 * as published (+ sign, 1 - exp(log p_y) clamped at 1e-7).
 */
export function sparseLsr(x: LossProbeInput, eps: number, variant: 'derived' | 'published' = 'derived'): number {
  const k = x.logits[0]!.length;
  return mean(x.logits.map((z, i) => {
    const y = x.labels[i]!;
    const lp = logSoftmax(z);
    const lpy = lp[y]!;
    if (variant === 'published') {
      return -(1 - eps + eps / k) * lpy + (eps * (k - 1) / k) * Math.log(Math.max(1 - Math.exp(lpy), 1e-7) / (k - 1));
    }
    const logOthers = logSumExp(lp.filter((_, c) => c !== y));
    return -(1 - eps + eps / k) * lpy - (eps * (k - 1) / k) * (logOthers - Math.log(k - 1));
  }));
}

/** Focal loss (Lin et al. 2017): -alpha_y (1 - p_y)^gamma log p_y, weighted mean (or sum). */
export function focal(x: LossProbeInput, gamma: number, o: { reduction?: 'mean' | 'sum'; ignore?: number } = {}): number {
  let num = 0;
  let den = 0;
  x.logits.forEach((z, i) => {
    const y = x.labels[i]!;
    if (y === (o.ignore ?? -100)) return;
    const lp = logSoftmax(z);
    const w = x.weights ? x.weights[y]! : 1;
    // 1 - p_y as the mass of the other classes over the total, both summed from
    // z - max(z): exact to rounding when p_y is near 1, and no 1e4-sized
    // intermediate whose rounding the factor log p_y ~ -1e4 would amplify.
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const others = e.reduce((a, v, c) => a + (c === y ? 0 : v), 0) / e.reduce((a, v) => a + v, 0);
    num += -w * others ** gamma * lp[y]!;
    den += w;
  });
  return o.reduction === 'sum' ? num : num / den;
}

/** sum_k p (log p - log q), q = softmax(z/T), batch mean, times T^2; 0 log 0 = 0. */
export function kl(x: LossProbeInput, t = 1): number {
  return t * t * mean(x.logits.map((z, i) => {
    const lq = logSoftmax(z.map((v) => v / t));
    return sum(x.targets![i]!.map((p, c) => (p > 0 ? p * (Math.log(p) - lq[c]!) : 0)));
  }));
}

export function gaussianTarget(k: number, y: number, sigma: number): Row {
  const s = Array.from({ length: k }, (_, c) => -0.5 * ((c - y) / sigma) ** 2);
  const l = logSumExp(s);
  return s.map((v) => Math.exp(v - l));
}

export function gaussianKl(x: LossProbeInput, sigma: number, reduction: 'batchmean' | 'sum' = 'batchmean'): number {
  const k = x.logits[0]!.length;
  return kl({ ...x, targets: x.labels.map((y) => gaussianTarget(k, y, sigma)) }) * (reduction === 'sum' ? x.labels.length : 1);
}

/** Coarse-level cross-entropy: -log sum_{k in group(y)} softmax(z)_k, batch mean. */
export function hierarchical(x: LossProbeInput, groups: number[]): number {
  return mean(x.logits.map((z, i) => {
    const g = groups[x.labels[i]!]!;
    return -(logSumExp(z.filter((_, c) => groups[c] === g)) - logSumExp(z));
  }));
}

function softmax(z: Row): Row {
  return logSoftmax(z).map(Math.exp);
}

export function mse(x: LossProbeInput, input: 'softmax' | 'raw' = 'softmax', reduction: 'mean' | 'sum_half' = 'mean'): number {
  return (reduction === 'sum_half' ? 0.5 * x.logits.length * x.logits[0]!.length : 1) * mean(x.logits.flatMap((z, i) => {
    const a = input === 'raw' ? z : softmax(z);
    const b = input === 'raw' ? x.targets![i]! : z.map((_, c) => (c === x.labels[i] ? 1 : 0));
    return a.map((v, c) => (v - b[c]!) ** 2);
  }));
}

export function l1(x: LossProbeInput, input: 'softmax' | 'raw' = 'softmax'): number {
  return mean(x.logits.flatMap((z, i) => {
    const a = input === 'raw' ? z : softmax(z);
    const b = input === 'raw' ? x.targets![i]! : z.map((_, c) => (c === x.labels[i] ? 1 : 0));
    return a.map((v, c) => Math.abs(v - b[c]!));
  }));
}

/** -[t log sigmoid(z) + (1-t) log sigmoid(-z)], mean over batch and classes. */
export function bce(x: LossProbeInput): number {
  return mean(x.logits.flatMap((z, i) => z.map((v, c) => {
    const t = x.targets![i]![c]!;
    return t * softplus(-v) + (1 - t) * softplus(v);
  })));
}

/** coral-pytorch's coral_loss: -sum_k [lv log s(z) + (1-lv) log s(-z)], batch mean. */
export function coral(x: LossProbeInput): number {
  const lambda = (k: number) => x.importance?.[k] ?? 1;
  return mean(x.logits.map((z, i) => sum(z.map((v, k) => lambda(k) * (x.labels[i]! > k ? softplus(-v) : softplus(v))))));
}

/** coral-pytorch's corn_loss: task k on samples with y > k-1, label y > k; summed, over the number of pairs. */
export function corn(x: LossProbeInput): number {
  let total = 0;
  let count = 0;
  x.logits.forEach((z, i) => z.forEach((v, k) => {
    const y = x.labels[i]!;
    if (!(y > k - 1)) return;
    total += (x.importance?.[k] ?? 1) * (y > k ? softplus(-v) : softplus(v));
    count++;
  }));
  return total / count;
}

function cosine(a: Row, b: Row): number {
  const dot = sum(a.map((v, i) => v * b[i]!));
  return dot / (Math.sqrt(sum(a.map((v) => v * v)) + 1e-12) * Math.sqrt(sum(b.map((v) => v * v)) + 1e-12));
}

function sqDist(a: Row, b: Row): number {
  return sum(a.map((v, i) => (v - b[i]!) ** 2));
}

export function minmax(x: LossProbeInput, o: { distance?: 'cosine' | 'l2'; lambda?: number; margin?: number; push?: 'spread' | 'seed' } = {}): number {
  const e = x.embeddings!;
  const k = e.length;
  const cos = (o.distance ?? 'cosine') === 'cosine';
  const seed = o.push === 'seed';
  const d = (a: Row, b: Row) => (cos ? 1 - cosine(a, b) : sqDist(a, b));
  let pull = 0;
  let mass = 0;
  let seedPush = 0;
  x.logits.forEach((f, i) => e.forEach((ec, c) => {
    const t = x.targets ? x.targets[i]![c]! : c === x.labels[i] ? 1 : 0;
    if (t === 0) return;
    mass += t;
    if (!seed) {
      pull += t * d(f, ec);
      return;
    }
    // The seed's code: MSE of cos(f, E_y) against +1, and of cos(E_y, E_j) against -1 for a random other j.
    pull += t * (cosine(f, ec) - 1) ** 2;
    for (let j = 0; j < k; j++) if (j !== c) seedPush += (t * (cosine(ec, e[j]!) + 1) ** 2) / (k - 1);
  }));
  if (seed) return pull / mass + (o.lambda ?? 1) * (seedPush / mass);
  let push = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
    if (i === j) continue;
    push += cos ? Math.exp(4 * (cosine(e[i]!, e[j]!) - 1)) : Math.max(0, (o.margin ?? 4) - d(e[i]!, e[j]!));
  }
  push /= k * (k - 1);
  return pull / mass + (o.lambda ?? 1) * (cos ? Math.log(push) : push);
}

/**
 * Central differences of `f` with respect to the logits, with step `h` (default
 * 1e-6 relative to the logit), and the size of the rounding error they carry.
 */
export function numericGrad(f: (x: LossProbeInput) => number, x: LossProbeInput, h?: number): { grad: number[][]; rounding: number } {
  let rounding = 0;
  const grad = x.logits.map((row, i) => row.map((v, c) => {
    const step = h ?? 1e-6 * Math.max(1, Math.abs(v));
    const at = (d: number) => f({ ...x, logits: x.logits.map((r, ii) => (ii === i ? r.map((u, cc) => (cc === c ? u + d : u)) : r)) });
    const [up, down] = [at(step), at(-step)];
    rounding = Math.max(rounding, (4e-16 * Math.max(1, Math.abs(up), Math.abs(down))) / step);
    return (up - down) / (2 * step);
  }));
  return { grad, rounding };
}
