// What the classify panel shows for one image: the top classes, the whole
// distribution (with the expected class marked for ordinal models, in the
// data's unit), and the coarse labels of a hierarchy; from the inference
// session's outputs, or from a fine-tuning step's preview.
import type { BundleMeta } from '../src/artifacts/web_bundle.ts';
import { distributionChart } from './charts.ts';

export interface Prediction {
  top: { index: number; name: string; probability: number }[];
  probabilities: number[];
  classIndex: number;
  /** The expected class index (ordinal models), and in the data's unit where it has one. */
  expected?: number;
  expectedUnit?: number;
  coarse?: Record<string, string>;
  ms: number;
}

/**
 * `meta` only when the model predicts the bundle's own classes (its ordinal
 * values and hierarchy apply); a new-class model has names alone.
 */
export function describePrediction(probabilities: ArrayLike<number>, names: readonly string[], o: { classIndex: number; meta?: BundleMeta; expected?: number; ms: number }): Prediction {
  const probs = Array.from(probabilities);
  const order = probs.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const classIndex = o.classIndex;
  const result: Prediction = {
    top: order.slice(0, Math.min(5, probs.length)).map(([v, i]) => ({ index: i, name: names[i] ?? String(i), probability: v })),
    probabilities: probs,
    classIndex,
    ms: o.ms,
  };
  if (o.expected !== undefined && o.meta) {
    result.expected = o.expected;
    const v = o.meta.ordinal?.values;
    if (v) {
      const lo = Math.max(0, Math.min(Math.floor(o.expected), v.length - 1));
      const hi = Math.min(lo + 1, v.length - 1);
      result.expectedUnit = v[lo]! + (o.expected - lo) * (v[hi]! - v[lo]!);
    }
  }
  if (o.meta?.hierarchy) {
    result.coarse = Object.fromEntries(Object.entries(o.meta.hierarchy).map(([level, h]) => [level, h.names[h.groups[classIndex]!] ?? String(h.groups[classIndex])]));
  }
  return result;
}

/** The panel's elements, filled for `r`; `unit` is the ordinal data's unit. */
export function renderPrediction(r: Prediction, names: readonly string[], unit: string | undefined, at: { topk: HTMLElement; coarse: HTMLElement; expected: HTMLElement; distribution: HTMLElement }): void {
  at.topk.replaceChildren(...r.top.map((t) => {
    const li = document.createElement('li');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.max(1, Math.round(200 * t.probability))}px`;
    li.append(bar, `${t.name}: ${(100 * t.probability).toFixed(1)}%`);
    return li;
  }));
  at.coarse.textContent = r.coarse ? Object.entries(r.coarse).map(([l, g]) => `${l}: ${g}`).join(', ') : '';
  const expectedText = r.expected === undefined ? undefined : r.expectedUnit !== undefined ? `${r.expectedUnit.toFixed(1)} ${unit ?? ''}`.trim() : `class ${r.expected.toFixed(2)}`;
  at.expected.textContent = expectedText === undefined ? '' : `Expected value: ${expectedText}`;
  // The distribution for ordinal models (where its shape matters) and whenever there are more classes than the top list shows.
  const show = r.expected !== undefined || r.probabilities.length > r.top.length;
  at.distribution.innerHTML = show ? distributionChart(r.probabilities, names, r.expected === undefined ? undefined : { at: r.expected, label: expectedText! }) : '';
}
