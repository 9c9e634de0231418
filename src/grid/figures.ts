// The figures and sentences of a compare or sweep report: what a paper would
// show. Paired differences from the baseline as a forest plot (each row's
// mean difference with its 95% interval and a zero line), each row's mean
// with its per-seed points, validation curves per epoch with a band over the
// seeds, and one sentence per row reading its differences. Specs are
// Vega-Lite, rendered to inline SVG by report.ts.
import type { TopLevelSpec } from 'vega-lite';
import { meanInterval } from '../train/metrics.ts';

export interface GridRow {
  label: string;
  metrics: Record<string, { mean: number; half: number; diff?: { mean: number; half: number } }>;
}

export interface GridColumn {
  key: string;
  title: string;
  /** Lower is better (errors), for reading the differences. */
  lower?: boolean;
}

/** `mean ± half` to three decimals (`n/a` without an interval), with a sign for differences. */
export const fmt = (mean: number, half: number, signed = false) => `${signed && mean >= 0 ? '+' : ''}${mean.toFixed(3)} ± ${Number.isNaN(half) ? 'n/a' : half.toFixed(3)}`;

/** Whether a difference's 95% interval excludes 0. */
export function outsideInterval(d: { mean: number; half: number } | undefined): boolean {
  return d !== undefined && Number.isFinite(d.half) && Math.abs(d.mean) > d.half;
}

/**
 * One sentence per row after the baseline: the metrics whose paired difference
 * has a 95% interval excluding 0 (better or worse), or that every difference
 * is inside its interval. It claims nothing more than the intervals show.
 */
export function readRows(rows: readonly GridRow[], cols: readonly GridColumn[], seeds: number): string[] {
  const base = rows[0]?.label ?? '';
  if (rows.length < 2) return ['One row, so there is nothing to compare.'];
  if (seeds < 2) return ['With one seed there are no intervals, so no difference can be told from noise (use --seeds 3 or more).'];
  return rows.slice(1).map((r) => {
    const outside = cols.filter((c) => outsideInterval(r.metrics[c.key]?.diff)).map((c) => {
      const d = r.metrics[c.key]!.diff!;
      return `${c.title} (${fmt(d.mean, d.half, true)}, ${(c.lower ? d.mean < 0 : d.mean > 0) ? 'better' : 'worse'})`;
    });
    if (outside.length === 0) return `'${r.label}': every difference from '${base}' is inside its 95% interval; ${seeds} seeds do not tell them apart.`;
    const inside = cols.length - outside.length;
    return `'${r.label}' differs from '${base}' beyond its 95% interval in ${outside.join(', ')}${inside ? `; its other ${inside === 1 ? 'difference is' : `${inside} differences are`} inside ${inside === 1 ? 'its interval' : 'their intervals'}` : ''}.`;
  });
}

/** The line under a table whose starred differences exclude 0. */
export const STAR_NOTE = '* marks a paired difference whose 95% interval excludes 0';

/** A sweep's metric over the swept parameter: the mean over seeds with a 95% band. */
export function sweepSpec(rows: readonly GridRow[], col: GridColumn, param: string): TopLevelSpec {
  const values = rows.map((r) => {
    const m = r.metrics[col.key]!;
    return { x: Number(r.label), mean: m.mean, lo: m.mean - (m.half || 0), hi: m.mean + (m.half || 0) };
  });
  return { data: { values }, width: 360, height: 220, title: col.title, layer: [
    { mark: { type: 'area', opacity: 0.25 }, encoding: { x: { field: 'x', type: 'quantitative', title: param }, y: { field: 'lo', type: 'quantitative', scale: { zero: false } }, y2: { field: 'hi' } } },
    { mark: { type: 'line', point: true }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'mean', type: 'quantitative', title: col.title } } },
  ] } as TopLevelSpec;
}

/** Each row's paired difference from the baseline with its 95% interval, a zero line: the figure a paper uses. */
export function forestSpec(rows: readonly GridRow[], col: GridColumn, axisTitle: string): TopLevelSpec {
  const values = rows.slice(1).map((r) => {
    const d = r.metrics[col.key]!.diff!;
    const half = Number.isFinite(d.half) ? d.half : 0;
    return { label: r.label, mean: d.mean, lo: d.mean - half, hi: d.mean + half, outside: outsideInterval(d) ? 'interval excludes 0' : 'interval includes 0' };
  });
  return {
    data: { values },
    width: 360,
    height: 36 * values.length + 20,
    title: `Δ ${col.title} from '${rows[0]!.label}'${col.lower ? ' (lower is better)' : ''}`,
    layer: [
      { mark: { type: 'rule', color: '#888', strokeDash: [4, 3] }, encoding: { x: { datum: 0, type: 'quantitative' } } },
      { mark: { type: 'rule', strokeWidth: 2 }, encoding: { y: { field: 'label', type: 'nominal', sort: null, title: axisTitle, axis: { labelLimit: 480 } }, x: { field: 'lo', type: 'quantitative', title: `difference in ${col.title}` }, x2: { field: 'hi' }, color: { field: 'outside', type: 'nominal', title: null, scale: { domain: ['interval excludes 0', 'interval includes 0'], range: ['#c2410c', '#1d4ed8'] } } } },
      { mark: { type: 'point', filled: true, size: 60 }, encoding: { y: { field: 'label', type: 'nominal', sort: null }, x: { field: 'mean', type: 'quantitative' }, color: { field: 'outside', type: 'nominal' } } },
    ],
  } as TopLevelSpec;
}

/** Each row's mean with its interval, and the per-seed values beside it (the axis does not start at 0). */
export function seedsSpec(labels: readonly string[], perSeed: readonly (readonly number[])[], col: GridColumn, axisTitle: string): TopLevelSpec {
  const points = labels.flatMap((label, i) => perSeed[i]!.map((v, s) => ({ label, value: v, seed: s })));
  const means = labels.map((label, i) => {
    const m = meanInterval(perSeed[i]!);
    const half = Number.isFinite(m.half) ? m.half : 0;
    return { label, mean: m.mean, lo: m.mean - half, hi: m.mean + half };
  });
  return {
    width: 360,
    height: 36 * labels.length + 20,
    title: `${col.title}: mean, 95% interval and each seed`,
    layer: [
      { data: { values: means }, mark: { type: 'rule', strokeWidth: 2 }, encoding: { y: { field: 'label', type: 'nominal', sort: null, title: axisTitle, axis: { labelLimit: 480 } }, x: { field: 'lo', type: 'quantitative', title: col.title, scale: { zero: false } }, x2: { field: 'hi' } } },
      { data: { values: means }, mark: { type: 'tick', thickness: 3, size: 18 }, encoding: { y: { field: 'label', type: 'nominal', sort: null }, x: { field: 'mean', type: 'quantitative' } } },
      { data: { values: points }, mark: { type: 'point', opacity: 0.6, size: 30, yOffset: 9 }, encoding: { y: { field: 'label', type: 'nominal', sort: null }, x: { field: 'value', type: 'quantitative' }, tooltip: [{ field: 'seed' }, { field: 'value' }] } },
    ],
  } as TopLevelSpec;
}

/** Validation metric per epoch: one line per row (its mean over seeds) and a band (mean ± the 95% interval). */
export function curvesSpec(labels: readonly string[], histories: readonly (readonly (readonly number[])[])[], title: string): TopLevelSpec {
  const values = labels.flatMap((label, i) => {
    const runs = histories[i]!;
    const epochs = Math.min(...runs.map((h) => h.length));
    return Array.from({ length: epochs }, (_, e) => {
      const m = meanInterval(runs.map((h) => h[e]!));
      const half = Number.isFinite(m.half) ? m.half : 0;
      return { label, epoch: e + 1, mean: m.mean, lo: m.mean - half, hi: m.mean + half };
    });
  });
  return {
    data: { values },
    width: 420,
    height: 220,
    title: `${title} per epoch (mean over seeds, band: 95% interval)`,
    layer: [
      { mark: { type: 'area', opacity: 0.18 }, encoding: { x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } }, y: { field: 'lo', type: 'quantitative', scale: { zero: false }, title }, y2: { field: 'hi' }, color: { field: 'label', type: 'nominal', sort: null, title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 480 } } } },
      { mark: { type: 'line', point: true }, encoding: { x: { field: 'epoch', type: 'quantitative' }, y: { field: 'mean', type: 'quantitative' }, color: { field: 'label', type: 'nominal', sort: null } } },
    ],
  } as TopLevelSpec;
}
