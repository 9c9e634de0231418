// Offline HTML reports. Plots are Vega-Lite specs rendered to inline SVG at
// write time, so a report is one self-contained file with no scripts.
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { metricsSummary } from './metrics.ts';
import { writeFiles } from '../artifacts/files.ts';
import type { RunConfig } from './config.ts';
import type { RunResult } from './evaluate.ts';
import type { Metrics } from './metrics.ts';

export const REPORT_FILE = 'report.html';

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

export const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top;max-width:100%;overflow-x:auto}li,p{overflow-wrap:anywhere}
.wide{overflow-x:auto;max-width:100%}code{background:#f3f3f3;padding:1px 4px;overflow-wrap:anywhere}
@media (max-width:600px){body{margin:1em}td,th{padding:3px 5px}}
@media (prefers-color-scheme:dark){body{background:#16181c;color:#ddd}th,code{background:#2a2d33}td,th{border-color:#444}figure svg{background:#fff;border-radius:4px}a{color:#8ab4f8}}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>
`;
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  // In a scrolling box: a wide table scrolls on a phone instead of widening the page (figures scroll at full size too: shrunk, their text could not be read).
  return `<div class="wide"><table><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('')}</table></div>`;
}

export function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

export async function confusionSvg(m: Metrics, classNames: readonly string[]): Promise<string> {
  const values = m.confusion.flatMap((row, t) => row.map((count, p) => ({ true: classNames[t] ?? String(t), predicted: classNames[p] ?? String(p), count })));
  return renderSvg({
    data: { values },
    width: 320,
    height: 320,
    mark: 'rect',
    encoding: {
      x: { field: 'predicted', type: 'ordinal', sort: null },
      y: { field: 'true', type: 'ordinal', sort: null },
      color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' } },
      tooltip: [{ field: 'count' }],
    },
  } as TopLevelSpec);
}

function curve(values: Record<string, unknown>[], y: string, title: string): TopLevelSpec {
  return {
    data: { values },
    width: 320,
    height: 200,
    title,
    mark: { type: 'line', point: true },
    encoding: { x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' } }, y: { field: y, type: 'quantitative', scale: { zero: false } }, color: { field: 'series', type: 'nominal' } },
  } as TopLevelSpec;
}

/** report.html for one training run: curves per epoch, test metrics, confusion matrix. */
export async function writeRunReport(out: string, config: RunConfig, r: RunResult, classNames?: readonly string[]): Promise<string> {
  const losses = r.history.flatMap((h) => [
    { epoch: h.epoch, series: 'train loss', value: h.trainLoss },
    { epoch: h.epoch, series: 'validation loss', value: h.validation.loss },
  ]);
  const figures = [figure(await renderSvg(curve(losses, 'value', 'loss')), 'Loss per epoch')];
  const v0 = r.history[0]?.validation;
  if (v0?.regressionMse !== undefined) {
    const mse = r.history.map((h) => ({ epoch: h.epoch, series: 'validation MSE', value: h.validation.regressionMse }));
    figures.push(figure(await renderSvg(curve(mse, 'value', 'MSE')), 'Validation mean squared error'));
  } else {
    const word = v0?.mAP !== undefined ? 'exact-match accuracy' : 'accuracy';
    const acc = r.history.flatMap((h) => [
      { epoch: h.epoch, series: `validation ${word}`, value: h.validation.accuracy },
      ...(h.validation.mAP !== undefined ? [{ epoch: h.epoch, series: 'validation mAP', value: h.validation.mAP }] : []),
    ]);
    figures.push(figure(await renderSvg(curve(acc, 'value', word)), `Validation ${word}${v0?.mAP !== undefined ? ' and mAP' : ''}`));
  }
  if (v0?.mae !== undefined) {
    const mae = r.history.flatMap((h) => [
      { epoch: h.epoch, series: 'MAE (arg-max class)', value: h.validation.mae },
      ...(h.validation.maeExpected !== undefined ? [{ epoch: h.epoch, series: 'MAE (expected class)', value: h.validation.maeExpected }] : []),
    ]);
    figures.push(figure(await renderSvg(curve(mae, 'value', 'MAE (classes)')), 'Validation mean absolute error'));
  }
  if (r.test.confusion.length) {
    const names = classNames ?? r.test.confusion.map((_, i) => String(i));
    figures.push(figure(await confusionSvg(r.test, names), 'Confusion matrix on the test split (rows: true class)'));
  }
  const perClass = r.test.f1 ? `<h2>Per-class F1 (test, threshold 0.5)</h2>${table(['class', 'F1'], r.test.f1.map((f, i) => [escapeHtml(classNames?.[i] ?? String(i)), f.toFixed(4)]))}` : '';
  const score = v0?.regressionMse !== undefined
    ? { title: 'validation MSE', get: (m: Metrics) => m.regressionMse! }
    : { title: v0?.mAP !== undefined ? 'validation exact-match accuracy' : 'validation accuracy', get: (m: Metrics) => m.accuracy };
  const best = Number.isNaN(r.best.accuracy) ? '' : `<p>Best epoch: ${r.best.epoch}, validation accuracy ${r.best.accuracy.toFixed(4)}.</p>`;
  const summary = Object.entries(metricsSummary(r.test)).map(([k, v]) => [k, v.toFixed(4)]);
  const body = `<p>Data <code>${escapeHtml(config.data)}</code>, model <code>${escapeHtml(config.model)}</code>, loss <code>${escapeHtml(config.loss)}</code>, optimizer <code>${escapeHtml(config.optimizer)}</code>, ${config.epochs} epochs, batch ${config.batch}, learning rate ${config.lr} (${config.lrSchedule})${config.sigmaDecay !== undefined ? `, ${config.sigmaDecayOf === 'variance' ? 'variance' : 'sigma'} decay ${config.sigmaDecay} (sigma min ${config.sigmaMin})` : ''}${config.teacher ? `, teacher <code>${escapeHtml(config.teacher)}</code>` : ''}, seed ${config.seed}.</p>
<h2>Test metrics</h2>${table(['metric', 'value'], summary)}${perClass}${best}
<h2>Training</h2>${figures.join('\n')}
<h2>Per epoch</h2>${table(['epoch', 'train loss', 'validation loss', score.title, 'lr', 'sigma', 'seconds'], r.history.map((h) => [String(h.epoch), h.trainLoss.toFixed(4), h.validation.loss.toFixed(4), score.get(h.validation).toFixed(4), h.lr.toPrecision(3), h.sigma?.toFixed(3) ?? '', h.seconds.toFixed(1)]))}`;
  writeFiles(out, { [REPORT_FILE]: new TextEncoder().encode(page(`lossgraph run: ${config.loss}`, body)) });
  return join(out, REPORT_FILE);
}
