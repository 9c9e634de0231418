// Loaders for folders of image files, decoded with jimp once, at load time:
//   folder:DIR   one sub-folder per class
//   images:CSV   a CSV with a 'file' column (paths relative to the CSV) and 0/1
//                label columns: several labels per image (multi-label)
//   utkface:DIR  UTKFace's age_gender_race_date.jpg[.chip.jpg]; age -> ordinal class
//   pets:DIR     Oxford-IIIT Pet's Breed_123.jpg; breed fine, species coarse
import { readdirSync, statSync } from 'node:fs';
import { unreadable } from './unreadable.ts';
import { basename, dirname, join, resolve } from 'node:path';
import { multiHot, readCsv, selectColumns } from './csv.ts';
import { DataError } from '../errors.ts';
import type { Dataset } from './dataset.ts';
import { cachedDecode, type ExampleReader } from './cache.ts';
import { decodeImage } from './image.ts';

export interface ImageLoadOptions {
  /** Model input [C, H, W]; C is 1 (grayscale) or 3 (RGB). */
  size: [number, number, number];
  /** Skip files that cannot be decoded or named, and count them, instead of failing. */
  skipBad?: boolean;
  /** Called with (done, total) while decoding. */
  progress?: (done: number, total: number) => void;
  /** Folder of the decoded-image cache; undefined: no cache. */
  cacheDir?: string;
  /** Above this many bytes of decoded images, batches stream from the cache file. */
  maxMemoryBytes?: number;
}

const IMAGE_FILE = /\.(jpe?g|png|bmp|gif|tiff?)$/i;

function listImages(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw unreadable(dir, e, 'folder');
  }
  return names.filter((n) => IMAGE_FILE.test(n)).sort().map((n) => join(dir, n));
}

interface Labelled {
  path: string;
  label: number;
}

/** What the image loaders hand imageDataset: decoded examples, from memory or the disk cache. */
interface Decoded {
  images: Float32Array;
  reader?: ExampleReader;
  labels: Int32Array;
  /** Per example: the index of its item in the decoded list (images:CSV maps them to rows). */
  kept: Int32Array;
  skipped: number;
  cached: boolean;
}

/**
 * Decodes every file (or reads them from the disk cache); a bad one fails the
 * load with one line, or is skipped and counted.
 */
async function decodeAll(items: readonly Labelled[], o: ImageLoadOptions): Promise<Decoded> {
  const [c, h, w] = o.size;
  if (c !== 1 && c !== 3) throw new DataError(`image size ${o.size.join('x')}: channels must be 1 or 3`);
  const recipe = { size: o.size, skipBad: !!o.skipBad, decoder: 'jimp + pixels.ts/1' };
  const r = await cachedDecode(items, c * h * w, recipe, { dir: o.cacheDir, maxMemoryBytes: o.maxMemoryBytes }, async (item, i) => {
    try {
      return await decodeImage(item.path, { width: w, height: h, channels: c });
    } catch (e) {
      if (!o.skipBad) throw new DataError(`${(e as Error).message} (use --skip-bad to skip such files)`);
      return undefined;
    } finally {
      o.progress?.(i + 1, items.length);
    }
  });
  return { images: r.images, reader: r.reader, labels: Int32Array.from(r.kept, (i) => items[i]!.label), kept: r.kept, skipped: r.skipped, cached: r.hit };
}

/**
 * Image files in `dir` whose names match `pattern`. A file that does not match
 * fails the load with one line naming it, or under skipBad is skipped and counted.
 */
function namedImages(dir: string, pattern: RegExp, expected: string, o: ImageLoadOptions): { files: { path: string; match: RegExpExecArray }[]; skipped: number } {
  const files: { path: string; match: RegExpExecArray }[] = [];
  let skipped = 0;
  for (const path of listImages(dir)) {
    const match = pattern.exec(basename(path));
    if (match) files.push({ path, match });
    else if (o.skipBad) skipped++;
    else throw new DataError(`${path}: not ${expected} (use --skip-bad to skip such files)`);
  }
  if (files.length === 0) throw new DataError(`${dir}: no images named like ${expected.replace(/^an? /, '')} found`);
  return { files, skipped };
}

/** A Dataset from decoded images; `skipped` adds the files skipped before decoding. */
function imageDataset(source: string, decoded: Decoded, skipped: number, size: [number, number, number], rest: Pick<Dataset, 'classNames' | 'hierarchy' | 'hierarchyNames' | 'ordinal'>): Dataset {
  return {
    source,
    images: decoded.images,
    ...(decoded.reader ? { reader: decoded.reader } : {}),
    cached: decoded.cached,
    labels: decoded.labels,
    count: decoded.labels.length,
    shape: size,
    skipped: skipped + decoded.skipped,
    ...rest,
  };
}

export async function loadFolder(dir: string, o: ImageLoadOptions): Promise<Dataset> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    throw unreadable(dir, e, 'folder');
  }
  // Class folders; a link that leads nowhere is named, not taken for a missing data folder.
  entries = entries.filter((n) => {
    try {
      return statSync(join(dir, n)).isDirectory();
    } catch (e) {
      throw unreadable(join(dir, n), e, 'folder');
    }
  }).sort();
  if (entries.length < 2) throw new DataError(`${dir}: expected one sub-folder per class, found ${entries.length}`);
  const items: Labelled[] = [];
  entries.forEach((cls, label) => {
    const files = listImages(join(dir, cls));
    if (files.length === 0) throw new DataError(`${join(dir, cls)}: class folder holds no images`);
    for (const path of files) items.push({ path, label });
  });
  return imageDataset(`folder:${dir}`, await decodeAll(items, o), 0, o.size, { classNames: entries });
}

export interface AgeBins {
  /** Years per class (default 1). */
  width: number;
  /** Ages at or above the cap share the last class (default 100). */
  cap: number;
}

/** Ages above this in a UTKFace name are typos, not people (the data set's oldest is 116). */
const MAX_AGE = 150;

/** UTKFace names: age_gender_race_date.jpg, some with .chip.jpg, a few without the race field. */
const UTK_NAME = /^(\d{1,3})_([01])_(?:(\d)_)?(\d+)\.jpg(?:\.chip\.jpg)?$/i;

export async function loadUtkface(dir: string, o: ImageLoadOptions & { bins?: AgeBins }): Promise<Dataset> {
  const bins = o.bins ?? { width: 1, cap: 100 };
  if (!(bins.width >= 1 && bins.cap >= bins.width)) throw new DataError(`age bins: width ${bins.width}, cap ${bins.cap} do not make classes`);
  const classes = Math.floor(bins.cap / bins.width) + 1;
  const { files, skipped } = namedImages(dir, UTK_NAME, 'a UTKFace file name (age_gender_race_date.jpg)', o);
  // Ages at or above the cap share the last class (a chosen binning); an age no person reaches is a bad name.
  let implausible = 0;
  const plausible = files.filter((f) => {
    if (Number(f.match[1]) <= MAX_AGE) return true;
    if (!o.skipBad) throw new DataError(`${f.path}: age ${f.match[1]} is not a plausible age (UTKFace ages run 1-116; above ${MAX_AGE} is refused) (use --skip-bad to skip such files)`);
    implausible++;
    return false;
  });
  const items = plausible.map((f) => ({ path: f.path, label: Math.floor(Math.min(Number(f.match[1]), bins.cap) / bins.width) }));
  return imageDataset(`utkface:${dir}`, await decodeAll(items, o), skipped + implausible, o.size, {
    // The last class holds every age from the cap up: "100+", not "100-104+".
    classNames: Array.from({ length: classes }, (_, k) => (k === classes - 1 ? `${k * bins.width}+` : bins.width === 1 ? `${k}` : `${k * bins.width}-${k * bins.width + bins.width - 1}`)),
    ordinal: { unit: 'years', values: Array.from({ length: classes }, (_, k) => k * bins.width + (bins.width - 1) / 2) },
  });
}

const PET_NAME = /^(.+)_(\d+)\.(jpe?g|png)$/i;

/** Oxford-IIIT Pet: the breed is the name before _N; capitalised breeds are cats, the rest dogs. */
export async function loadPets(dir: string, o: ImageLoadOptions): Promise<Dataset> {
  const { files, skipped } = namedImages(dir, PET_NAME, 'an Oxford-IIIT Pet file name (Breed_123.jpg)', o);
  const breeds = [...new Set(files.map((f) => f.match[1]!))].sort();
  const items = files.map((f) => ({ path: f.path, label: breeds.indexOf(f.match[1]!) }));
  return imageDataset(`pets:${dir}`, await decodeAll(items, o), skipped, o.size, {
    classNames: breeds,
    hierarchy: { species: breeds.map((b) => (/^[A-Z]/.test(b) ? 0 : 1)) },
    hierarchyNames: { species: ['cat', 'dog'] },
  });
}

/**
 * images:CSV — a CSV beside (or above) the images: a `file` column with paths
 * relative to the CSV and 0/1 label columns (all others, or --label-columns).
 */
export async function loadImageCsv(csv: string, o: ImageLoadOptions & { labelColumns?: string[] }): Promise<Dataset> {
  const { header, rows } = readCsv(csv);
  const fileAt = header.indexOf('file');
  if (fileAt < 0) throw new DataError(`${csv}: no 'file' column (columns: ${header.join(', ')}); images:CSV needs file names and 0/1 label columns`);
  const columns = o.labelColumns ? selectColumns(csv, header, o.labelColumns, '--label-columns') : header.flatMap((_, i) => (i === fileAt ? [] : [i]));
  if (columns.includes(fileAt)) throw new DataError(`${csv}: the 'file' column cannot be a label column`);
  if (columns.length < 2) throw new DataError(`${csv}: ${columns.length} label column; multi-label data needs at least 2`);
  const { targets, first } = multiHot(csv, header, rows, columns);
  const root = dirname(resolve(csv));
  const items = rows.map((row, r) => ({ path: join(root, row[fileAt]!), label: first[r]! }));
  const decoded = await decodeAll(items, o);
  const k = columns.length;
  // A skipped file drops its row's targets too.
  const keptTargets = new Float32Array(decoded.kept.length * k);
  decoded.kept.forEach((r, i) => keptTargets.set(targets.subarray(r * k, (r + 1) * k), i * k));
  return {
    ...imageDataset(`images:${csv}`, decoded, 0, o.size, { classNames: columns.map((c) => header[c]!) }),
    targets: keptTargets,
    task: 'multilabel',
  };
}
