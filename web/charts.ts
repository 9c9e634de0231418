// The page's two small charts as SVG strings: the predicted distribution over
// the classes and the fine-tuning curves. Hand-written rather than vega-lite
// (which the reports use): vega would add about 800 kB to a page whose load
// goal is two seconds. Both scale to their container (viewBox, width 100%),
// so 101 classes fit a phone's width instead of scrolling sideways.

const INK = 'currentColor';
const BLUE = '#3b82f6';
const GREEN = '#16a34a';
const ORANGE = '#ea580c';

function escapeXml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** Up to `n` evenly spread indices of 0..count-1, first and last included. */
function ticks(count: number, n: number): number[] {
  if (count <= n) return Array.from({ length: count }, (_, i) => i);
  return [...new Set(Array.from({ length: n }, (_, j) => Math.round((j * (count - 1)) / (n - 1))))];
}

/**
 * Bars of each class's probability, a y axis in percent, class names along x
 * (every one when they fit, else evenly spread), and, for ordinal models, the
 * expected class marked by a line at its (fractional) position.
 */
export function distributionChart(probabilities: ArrayLike<number>, names: readonly string[], expected?: { at: number; label: string }): string {
  const k = probabilities.length;
  const [w, h, left, bottom, top] = [640, 180, 40, 34, 18];
  const plotW = w - left - 8;
  const plotH = h - top - bottom;
  const slot = plotW / k;
  const max = Math.max(...Array.from(probabilities), 1e-9);
  const yMax = Math.min(1, Math.ceil(max * 10) / 10);
  const y = (p: number) => top + plotH - (p / yMax) * plotH;
  const x = (i: number) => left + i * slot;
  const bars = Array.from(probabilities, (p, i) => `<rect x="${(x(i) + slot * 0.1).toFixed(2)}" y="${y(p).toFixed(2)}" width="${(slot * 0.8).toFixed(2)}" height="${(top + plotH - y(p)).toFixed(2)}" fill="${BLUE}"><title>${escapeXml(names[i] ?? String(i))}: ${(100 * p).toFixed(1)}%</title></rect>`).join('');
  const yTicks = [0, yMax / 2, yMax].map((v) => `<line x1="${left - 4}" x2="${left}" y1="${y(v)}" y2="${y(v)}" stroke="${INK}"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(100 * v)}%</text>`).join('');
  // The first and last names are anchored inside the plot, so neither is cut at the edge.
  const xTicks = ticks(k, Math.max(2, Math.floor(plotW / 46))).map((i) => {
    const [at, anchor] = k > 1 && i === k - 1 ? [x(i) + slot, 'end'] : k > 1 && i === 0 ? [x(i), 'start'] : [x(i) + slot / 2, 'middle'];
    return `<text x="${at.toFixed(2)}" y="${top + plotH + 14}" text-anchor="${anchor}">${escapeXml(names[i] ?? String(i))}</text>`;
  }).join('');
  const mark = expected === undefined ? '' : (() => {
    const ex = x(expected.at) + slot / 2;
    const anchor = ex > w - 90 ? 'end' : ex < left + 60 ? 'start' : 'middle';
    return `<line class="expected" x1="${ex.toFixed(2)}" x2="${ex.toFixed(2)}" y1="${top - 4}" y2="${top + plotH}" stroke="${ORANGE}" stroke-width="2" stroke-dasharray="4 3"/><text x="${ex.toFixed(2)}" y="${top - 6}" text-anchor="${anchor}" fill="${ORANGE}">expected ${escapeXml(expected.label)}</text>`;
  })();
  const axes = `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="${INK}"/><line x1="${left}" x2="${w - 8}" y1="${top + plotH}" y2="${top + plotH}" stroke="${INK}"/>`;
  return `<svg viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-label="predicted probability of each of the ${k} classes${expected ? `; expected ${escapeXml(expected.label)}` : ''}" font-size="11" fill="${INK}">${axes}${yTicks}${xTicks}${bars}${mark}<text x="${left + plotW / 2}" y="${h - 4}" text-anchor="middle">class</text></svg>`;
}

export interface CurvePoint {
  step: number;
  loss: number;
  accuracy: number;
  /** Accuracy on the held-back labelled images, when there are some. */
  validation?: number;
}

/**
 * Loss (left axis, from 0) and accuracy in percent (right axis) against the
 * step. Points with a non-finite value are left out (the status line says
 * what happened).
 */
export function curvesChart(all: readonly CurvePoint[]): string {
  const points = all.filter((p) => Number.isFinite(p.loss) && Number.isFinite(p.accuracy));
  const [w, h, left, right, top, bottom] = [480, 190, 44, 44, 22, 32];
  const plotW = w - left - right;
  const plotH = h - top - bottom;
  const last = Math.max(points.at(-1)?.step ?? 1, 1);
  const first = Math.min(points[0]?.step ?? 1, last);
  const maxLoss = Math.max(...points.map((p) => p.loss), 1e-9);
  const x = (s: number) => left + (last === first ? plotW : ((s - first) / (last - first)) * plotW);
  const yLoss = (l: number) => top + plotH - (l / maxLoss) * plotH;
  const yAcc = (a: number) => top + plotH - a * plotH;
  const path = (f: (p: CurvePoint) => number | undefined) => points.filter((p) => f(p) !== undefined && Number.isFinite(f(p))).map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${f(p)!.toFixed(1)}`).join(' ');
  const stepTicks = [...new Set([first, Math.round((first + last) / 2), last])].map((s) => `<text x="${x(s)}" y="${top + plotH + 14}" text-anchor="middle">${s}</text>`).join('');
  const lossTicks = [0, maxLoss / 2, maxLoss].map((v) => `<text x="${left - 4}" y="${yLoss(v) + 4}" text-anchor="end" fill="${BLUE}">${v.toPrecision(2)}</text>`).join('');
  const accTicks = [0, 0.5, 1].map((v) => `<text x="${w - right + 4}" y="${yAcc(v) + 4}" fill="${GREEN}">${100 * v}%</text>`).join('');
  const hasValidation = points.some((p) => p.validation !== undefined);
  const axes = `<path d="M${left},${top} V${top + plotH} H${w - right} V${top}" fill="none" stroke="${INK}"/>`;
  const legend = `<text x="${left}" y="${top - 8}" fill="${BLUE}">loss</text><text x="${left + 40}" y="${top - 8}" fill="${GREEN}">accuracy (training images)</text>${hasValidation ? `<text x="${left + 210}" y="${top - 8}" fill="${ORANGE}">accuracy (held back)</text>` : ''}`;
  return `<svg viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-label="loss and accuracy per fine-tuning step" font-size="11" fill="${INK}">${axes}${stepTicks}${lossTicks}${accTicks}${legend}
<path d="${path((p) => yLoss(p.loss))}" fill="none" stroke="${BLUE}" stroke-width="2"/>
<path d="${path((p) => yAcc(p.accuracy))}" fill="none" stroke="${GREEN}" stroke-width="2"/>
${hasValidation ? `<path class="validation" d="${path((p) => (p.validation === undefined ? undefined : yAcc(p.validation)))}" fill="none" stroke="${ORANGE}" stroke-width="2" stroke-dasharray="5 3"/>` : ''}
<text x="${left + plotW / 2}" y="${h - 4}" text-anchor="middle">step</text></svg>`;
}
