// csv:FILE — tabular features with a label column, several 0/1 label columns
// (multi-label), or real-valued target columns (regression), parsed with
// csv-parse. Features are standardised (zero mean, unit variance per column,
// over the whole file) and shaped [1, 1, F] so the same models and graphs apply.
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { DataError } from '../errors.ts';
import { unreadable } from './unreadable.ts';
import { MAX_CLASSES, maxOf, type Dataset } from './dataset.ts';

export interface CsvOptions {
  /** The single label column (default 'label', else the last column). */
  labelColumn?: string;
  /** Several 0/1 label columns: names, or a prefix ending in '*' ('tag_*'). */
  labelColumns?: string[];
  /** Real-valued target columns for regression (names or a prefix ending in '*'). */
  targetColumns?: string[];
}

const FLOAT32_MAX = 3.4028234663852886e38;

export function readCsv(path: string): { header: string[]; rows: string[][] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw unreadable(path, e, 'file');
  }
  let rows: string[][];
  try {
    // bom: a UTF-8 byte-order mark (Excel writes one) would otherwise hide the first column's name.
    rows = parse(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: true }) as string[][];
  } catch (e) {
    throw new DataError(`${path}: not valid CSV (${String((e as Error).message).split('\n')[0]})`);
  }
  if (rows.length < 2) throw new DataError(`${path}: needs a header row and at least one data row`);
  const header = rows[0]!;
  // A name twice would make --label-column (and the default 'label') pick one silently.
  const seen = new Map<string, number>();
  header.forEach((name, i) => {
    if (seen.has(name)) throw new DataError(`${path}: columns ${seen.get(name)! + 1} and ${i + 1} are both named '${name}'; column names must differ`);
    seen.set(name, i);
  });
  rows.slice(1).forEach((row, r) => {
    if (row.length !== header.length) throw new DataError(`${path}:${r + 2}: ${row.length} fields, the header has ${header.length}`);
  });
  return { header, rows: rows.slice(1) };
}

/** Column indices named by `names` (exact names, or 'prefix*'), in header order for prefixes. */
export function selectColumns(path: string, header: string[], names: readonly string[], flag: string): number[] {
  const out: number[] = [];
  for (const n of names) {
    const found = n.endsWith('*') ? header.flatMap((h, i) => (h.startsWith(n.slice(0, -1)) ? [i] : [])) : header.indexOf(n) >= 0 ? [header.indexOf(n)] : [];
    if (found.length === 0) throw new DataError(`${path}: ${flag} ${n} matches no column (columns: ${header.join(', ')})`);
    for (const i of found) if (!out.includes(i)) out.push(i);
  }
  return out;
}

/** A finite number from a cell, or one line naming the file, line and column. */
export function numberCell(path: string, line: number, column: string, cell: string): number {
  const v = Number(cell);
  if (cell === '' || !Number.isFinite(v)) throw new DataError(`${path}:${line}: column '${column}' holds '${cell}', not a finite number`);
  // Examples are float32: a larger value would become Infinity there, and training would fail for no reason it could name.
  if (Math.abs(v) > FLOAT32_MAX) throw new DataError(`${path}:${line}: column '${column}' holds '${cell}', beyond float32's range (about ±3.4e38)`);
  return v;
}

/** [N, columns.length] multi-hot labels from 0/1 cells; the first positive class of each row. */
export function multiHot(path: string, header: string[], rows: string[][], columns: number[], lineOffset = 2): { targets: Float32Array; first: Int32Array } {
  const k = columns.length;
  const targets = new Float32Array(rows.length * k);
  const first = new Int32Array(rows.length);
  rows.forEach((row, r) => {
    first[r] = -1;
    columns.forEach((c, j) => {
      const cell = row[c]!;
      if (cell !== '0' && cell !== '1') throw new DataError(`${path}:${r + lineOffset}: label column '${header[c]}' holds '${cell}'; multi-label columns hold 0 or 1`);
      targets[r * k + j] = cell === '1' ? 1 : 0;
      if (cell === '1' && first[r] === -1) first[r] = j;
    });
    if (first[r] === -1) first[r] = 0;
  });
  return { targets, first };
}

export function loadCsv(path: string, o: CsvOptions | string = {}): Dataset {
  const opts: CsvOptions = typeof o === 'string' ? { labelColumn: o } : o;
  const { header, rows } = readCsv(path);
  if ([opts.labelColumn, opts.labelColumns, opts.targetColumns].filter((x) => x !== undefined).length > 1) {
    throw new DataError('--label-column, --label-columns and --target-columns exclude each other: name one kind of output');
  }
  let outputs: number[];
  if (opts.labelColumns) outputs = selectColumns(path, header, opts.labelColumns, '--label-columns');
  else if (opts.targetColumns) outputs = selectColumns(path, header, opts.targetColumns, '--target-columns');
  else {
    const at = opts.labelColumn !== undefined ? header.indexOf(opts.labelColumn) : header.includes('label') ? header.indexOf('label') : header.length - 1;
    if (at < 0) throw new DataError(`${path}: no column '${opts.labelColumn}' (columns: ${header.join(', ')})`);
    outputs = [at];
  }
  const featureColumns = header.flatMap((_, i) => (outputs.includes(i) ? [] : [i]));
  if (featureColumns.length === 0) throw new DataError(`${path}: needs at least one feature column besides the outputs`);
  const f = featureColumns.length;
  const features = new Float32Array(rows.length * f);
  rows.forEach((row, r) => featureColumns.forEach((c, j) => (features[r * f + j] = numberCell(path, r + 2, header[c]!, row[c]!))));
  standardise(features, rows.length, f);
  const base = { source: `csv:${path}`, images: features, count: rows.length, shape: [1, 1, f] as [number, number, number], skipped: 0 };

  if (opts.labelColumns) {
    if (outputs.length < 2) throw new DataError(`${path}: --label-columns names ${outputs.length} column; multi-label data needs at least 2`);
    const { targets, first } = multiHot(path, header, rows, outputs);
    return { ...base, labels: first, targets, task: 'multilabel', classNames: outputs.map((c) => header[c]!) };
  }
  if (opts.targetColumns) {
    const t = outputs.length;
    const targets = new Float32Array(rows.length * t);
    rows.forEach((row, r) => outputs.forEach((c, j) => (targets[r * t + j] = numberCell(path, r + 2, header[c]!, row[c]!))));
    return { ...base, labels: new Int32Array(rows.length), targets, task: 'regression', classNames: outputs.map((c) => header[c]!) };
  }
  // Integer labels keep their numbering; anything else is mapped in sorted order.
  const rawLabels = rows.map((row) => row[outputs[0]!]!);
  if (rawLabels.every((l) => /^-?\d+$/.test(l))) {
    const bad = rawLabels.findIndex((l) => l.startsWith('-'));
    if (bad >= 0) throw new DataError(`${path}:${bad + 2}: label '${rawLabels[bad]}' in column '${header[outputs[0]!]}' is negative; class labels are 0, 1, 2, ... (or names)`);
  }
  const empty = rawLabels.findIndex((l) => l === '');
  if (empty >= 0) throw new DataError(`${path}:${empty + 2}: the label column '${header[outputs[0]!]}' is empty`);
  const numeric = rawLabels.every((l) => /^\d+$/.test(l));
  const top = numeric ? maxOf(rawLabels.map(Number)) : 0;
  if (top >= MAX_CLASSES) {
    const at = rawLabels.findIndex((l) => Number(l) === top);
    throw new DataError(`${path}:${at + 2}: label ${rawLabels[at]} in column '${header[outputs[0]!]}' would make ${rawLabels[at]} + 1 classes (at most ${MAX_CLASSES}); integer labels are class numbers 0, 1, 2, ... — is this an identifier column?`);
  }
  const classNames = numeric
    ? Array.from({ length: top + 1 }, (_, i) => String(i))
    : [...new Set(rawLabels)].sort();
  const index = new Map(classNames.map((name, i) => [name, i]));
  const labels = Int32Array.from(rawLabels, (l) => (numeric ? Number(l) : index.get(l)!));
  return { ...base, labels, classNames };
}

function standardise(x: Float32Array, n: number, f: number): void {
  for (let j = 0; j < f; j++) {
    let mean = 0;
    for (let r = 0; r < n; r++) mean += x[r * f + j]! / n;
    let variance = 0;
    for (let r = 0; r < n; r++) variance += (x[r * f + j]! - mean) ** 2 / n;
    const sd = Math.sqrt(variance) || 1;
    for (let r = 0; r < n; r++) x[r * f + j] = (x[r * f + j]! - mean) / sd;
  }
}
