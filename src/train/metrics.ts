// Evaluation metrics from predictions the inference graph made (its class,
// probabilities or scores, and expected class), so prediction rules live in
// one place: the graph.

export interface Predictions {
  /** Predicted class per example. */
  classes: Int32Array;
  /** [N, K] probabilities or per-class scores, for top-k. */
  scores: Float32Array;
  /** Expected class index per example (ordinal models), else undefined. */
  expected?: Float32Array;
}

export interface Metrics {
  loss: number;
  accuracy: number;
  /** Top-k accuracy, k = min(3, K - 1). */
  topK: number;
  k: number;
  /** Ordinal errors in class steps, of the arg-max class and of the expected class. */
  mae?: number;
  mse?: number;
  rmse?: number;
  maeExpected?: number;
  rmseExpected?: number;
  /** The same in the data set's unit (years for UTKFace), when it has one. */
  unit?: string;
  maeUnit?: number;
  maeExpectedUnit?: number;
  /** Accuracy at each coarse level of the hierarchy. */
  coarseAccuracy?: Record<string, number>;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

export interface MetricContext {
  classes: number;
  ordinal?: { unit: string; values: number[] };
  /** Report ordinal errors (MAE, RMSE) even without unit values. */
  ordered: boolean;
  hierarchy?: Record<string, number[]>;
}

export function computeMetrics(loss: number, labels: Int32Array | BigInt64Array, p: Predictions, ctx: MetricContext): Metrics {
  const n = labels.length;
  const kk = ctx.classes;
  const k = Math.min(3, kk - 1);
  const confusion = Array.from({ length: kk }, () => new Array<number>(kk).fill(0));
  let correct = 0;
  let topK = 0;
  let absErr = 0;
  let sqErr = 0;
  let absExp = 0;
  let sqExp = 0;
  let absUnit = 0;
  let absExpUnit = 0;
  const coarse = Object.fromEntries(Object.keys(ctx.hierarchy ?? {}).map((name) => [name, 0]));
  for (let i = 0; i < n; i++) {
    const y = Number(labels[i]);
    const c = p.classes[i]!;
    confusion[y]![c]!++;
    if (c === y) correct++;
    const row = p.scores.subarray(i * kk, (i + 1) * kk);
    const better = row.reduce((cnt, v) => cnt + (v > row[y]! ? 1 : 0), 0);
    if (better < k) topK++;
    absErr += Math.abs(c - y);
    sqErr += (c - y) ** 2;
    if (p.expected) {
      const e = p.expected[i]!;
      absExp += Math.abs(e - y);
      sqExp += (e - y) ** 2;
    }
    if (ctx.ordinal) {
      const v = ctx.ordinal.values;
      absUnit += Math.abs(v[c]! - v[y]!);
      if (p.expected) {
        // The expected class is a real number between class indices: interpolate the unit values.
        const e = p.expected[i]!;
        const lo = Math.floor(e);
        const hi = Math.min(lo + 1, v.length - 1);
        absExpUnit += Math.abs(v[lo]! + (e - lo) * (v[hi]! - v[lo]!) - v[y]!);
      }
    }
    for (const [name, groups] of Object.entries(ctx.hierarchy ?? {})) if (groups[c] === groups[y]) coarse[name]!++;
  }
  const m: Metrics = { loss, accuracy: correct / n, topK: topK / n, k, confusion };
  if (ctx.ordered || ctx.ordinal) {
    m.mae = absErr / n;
    m.mse = sqErr / n;
    m.rmse = Math.sqrt(sqErr / n);
    if (p.expected) {
      m.maeExpected = absExp / n;
      m.rmseExpected = Math.sqrt(sqExp / n);
    }
  }
  if (ctx.ordinal) {
    m.unit = ctx.ordinal.unit;
    m.maeUnit = absUnit / n;
    if (p.expected) m.maeExpectedUnit = absExpUnit / n;
  }
  if (ctx.hierarchy) m.coarseAccuracy = Object.fromEntries(Object.entries(coarse).map(([name, c]) => [name, c / n]));
  return m;
}

/** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Mean and the half-width of its 95% confidence interval (t distribution); NaN half-width for one value. */
export function meanInterval(xs: readonly number[]): { mean: number; half: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, half: NaN };
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, half: (T975[n - 2] ?? 1.96) * (sd / Math.sqrt(n)) };
}
