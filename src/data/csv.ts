// csv:FILE — tabular features with a label column, parsed with csv-parse.
// Features are standardised (zero mean, unit variance per column, over the
// whole file) and shaped [1, 1, F] so the same models and graphs apply.
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { LossgraphError } from '../errors.ts';
import type { Dataset } from './dataset.ts';

export function loadCsv(path: string, labelColumn?: string): Dataset {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new LossgraphError(`${path}: no such file`);
  }
  let rows: string[][];
  try {
    rows = parse(text, { skip_empty_lines: true, trim: true }) as string[][];
  } catch (e) {
    throw new LossgraphError(`${path}: not valid CSV (${String((e as Error).message).split('\n')[0]})`);
  }
  if (rows.length < 2) throw new LossgraphError(`${path}: needs a header row and at least one data row`);
  const header = rows[0]!;
  const labelAt = labelColumn !== undefined ? header.indexOf(labelColumn) : header.includes('label') ? header.indexOf('label') : header.length - 1;
  if (labelAt < 0) throw new LossgraphError(`${path}: no column '${labelColumn}' (columns: ${header.join(', ')})`);
  if (header.length < 2) throw new LossgraphError(`${path}: needs at least one feature column besides the label`);
  const data = rows.slice(1);
  const f = header.length - 1;
  const features = new Float32Array(data.length * f);
  const rawLabels: string[] = [];
  data.forEach((row, r) => {
    if (row.length !== header.length) throw new LossgraphError(`${path}:${r + 2}: ${row.length} fields, the header has ${header.length}`);
    let j = 0;
    row.forEach((cell, c) => {
      if (c === labelAt) {
        rawLabels.push(cell);
        return;
      }
      const v = Number(cell);
      if (cell === '' || !Number.isFinite(v)) throw new LossgraphError(`${path}:${r + 2}: column '${header[c]}' holds '${cell}', not a number`);
      features[r * f + j++] = v;
    });
  });
  for (let j = 0; j < f; j++) {
    let mean = 0;
    for (let r = 0; r < data.length; r++) mean += features[r * f + j]! / data.length;
    let variance = 0;
    for (let r = 0; r < data.length; r++) variance += (features[r * f + j]! - mean) ** 2 / data.length;
    const sd = Math.sqrt(variance) || 1;
    for (let r = 0; r < data.length; r++) features[r * f + j] = (features[r * f + j]! - mean) / sd;
  }
  // Integer labels keep their numbering; anything else is mapped in sorted order.
  const numeric = rawLabels.every((l) => /^\d+$/.test(l));
  const classNames = numeric
    ? Array.from({ length: Math.max(...rawLabels.map(Number)) + 1 }, (_, i) => String(i))
    : [...new Set(rawLabels)].sort();
  const labels = Int32Array.from(rawLabels, (l) => (numeric ? Number(l) : classNames.indexOf(l)));
  return { source: `csv:${path}`, images: features, labels, count: data.length, shape: [1, 1, f], classNames, skipped: 0 };
}
