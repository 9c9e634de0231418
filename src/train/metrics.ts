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
  /** The same in the data set's unit (years for UTKFace), when it has one; MSE in that unit is seed 000's headline metric. */
  unit?: string;
  maeUnit?: number;
  maeExpectedUnit?: number;
  mseUnit?: number;
  mseExpectedUnit?: number;
  /** Multi-label data: per-class F1 at threshold 0.5, their mean, and mean average precision (accuracy is then the exact-match ratio). */
  f1?: number[];
  macroF1?: number;
  mAP?: number;
  /** Regression targets: mean squared and absolute error over examples and outputs (accuracy is then NaN). */
  regressionMse?: number;
  regressionMae?: number;
  /** Accuracy at each coarse level of the hierarchy. */
  coarseAccuracy?: Record<string, number>;
  /** Over a run: the best validation accuracy of any epoch (seed 003's "max accuracy"); set by compare and sweep. */
  bestValidationAccuracy?: number;
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
  let sqUnit = 0;
  let sqExpUnit = 0;
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
      sqUnit += (v[c]! - v[y]!) ** 2;
      if (p.expected) {
        // The expected class is a real number between class indices: interpolate the unit values.
        const e = p.expected[i]!;
        const lo = Math.floor(e);
        const hi = Math.min(lo + 1, v.length - 1);
        const err = v[lo]! + (e - lo) * (v[hi]! - v[lo]!) - v[y]!;
        absExpUnit += Math.abs(err);
        sqExpUnit += err ** 2;
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
    m.mseUnit = sqUnit / n;
    if (p.expected) {
      m.maeExpectedUnit = absExpUnit / n;
      m.mseExpectedUnit = sqExpUnit / n;
    }
  }
  if (ctx.hierarchy) m.coarseAccuracy = Object.fromEntries(Object.entries(coarse).map(([name, c]) => [name, c / n]));
  return m;
}

/**
 * Multi-label metrics from per-class scores in [0, 1] against multi-hot
 * targets: exact-match (subset) accuracy and per-class F1 with a class on
 * above 0.5, mean average precision over classes with at least one positive,
 * and precision at 1 (the top-scored class is a positive) in place of top-k.
 */
export function multiLabelMetrics(loss: number, targets: Float32Array, scores: Float32Array, classes: number): Metrics {
  const n = targets.length / classes;
  let exact = 0;
  let top1 = 0;
  const tp = new Array<number>(classes).fill(0);
  const fp = new Array<number>(classes).fill(0);
  const fn = new Array<number>(classes).fill(0);
  for (let i = 0; i < n; i++) {
    let allRight = true;
    let best = 0;
    for (let k = 0; k < classes; k++) {
      const on = scores[i * classes + k]! > 0.5;
      const t = targets[i * classes + k]! > 0.5;
      if (on !== t) allRight = false;
      if (on && t) tp[k]!++;
      else if (on) fp[k]!++;
      else if (t) fn[k]!++;
      if (scores[i * classes + k]! > scores[i * classes + best]!) best = k;
    }
    if (allRight) exact++;
    if (targets[i * classes + best]! > 0.5) top1++;
  }
  const f1 = tp.map((t, k) => (t === 0 ? 0 : (2 * t) / (2 * t + fp[k]! + fn[k]!)));
  const aps: number[] = [];
  for (let k = 0; k < classes; k++) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b * classes + k]! - scores[a * classes + k]! || a - b);
    const positives = order.filter((i) => targets[i * classes + k]! > 0.5).length;
    if (positives === 0) continue;
    let hits = 0;
    let sum = 0;
    order.forEach((i, rank) => {
      if (targets[i * classes + k]! > 0.5) sum += ++hits / (rank + 1);
    });
    aps.push(sum / positives);
  }
  return {
    loss,
    accuracy: exact / n,
    topK: top1 / n,
    k: 1,
    confusion: [],
    f1,
    macroF1: f1.reduce((a, b) => a + b, 0) / classes,
    mAP: aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : NaN,
  };
}

/** Regression metrics from raw outputs [N, T] against targets [N, T]. */
export function regressionMetrics(loss: number, targets: Float32Array, outputs: Float32Array): Metrics {
  let sq = 0;
  let abs = 0;
  for (let i = 0; i < targets.length; i++) {
    const e = outputs[i]! - targets[i]!;
    sq += e * e;
    abs += Math.abs(e);
  }
  return { loss, accuracy: NaN, topK: NaN, k: 0, confusion: [], regressionMse: sq / targets.length, regressionMae: abs / targets.length };
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

/** The test metrics as flat name -> number, for the CLI's output and the reports. */
export function metricsSummary(m: Metrics): Record<string, number> {
  if (m.regressionMse !== undefined) return { loss: m.loss, mse: m.regressionMse, mae: m.regressionMae! };
  if (m.mAP !== undefined) return { loss: m.loss, subset_accuracy: m.accuracy, precision_at_1: m.topK, macro_f1: m.macroF1!, mAP: m.mAP };
  const out: Record<string, number> = { loss: m.loss, accuracy: m.accuracy, [`top${m.k}`]: m.topK };
  if (m.mae !== undefined) Object.assign(out, { mae: m.mae, rmse: m.rmse! });
  if (m.maeExpected !== undefined) Object.assign(out, { mae_expected: m.maeExpected, rmse_expected: m.rmseExpected! });
  // In the data set's own unit (years), where that differs from class steps.
  if (m.maeUnit !== undefined && m.maeUnit !== m.mae) {
    const unit = m.unit!.replace(/\W+/g, '_');
    out[`mae_${unit}`] = m.maeUnit;
    out[`mse_${unit}`] = m.mseUnit!;
    if (m.maeExpectedUnit !== undefined) Object.assign(out, { [`mae_expected_${unit}`]: m.maeExpectedUnit, [`mse_expected_${unit}`]: m.mseExpectedUnit! });
  }
  for (const [level, acc] of Object.entries(m.coarseAccuracy ?? {})) out[`accuracy_${level}`] = acc;
  return out;
}
