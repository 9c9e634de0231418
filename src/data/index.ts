// `--data` forms: embedded, fashion-mnist[:DIR], idx:DIR, utkface:DIR, pets:DIR, folder:DIR, images:CSV, csv:FILE.
import { DataError } from '../errors.ts';
import { loadCsv } from './csv.ts';
import type { Dataset } from './dataset.ts';
import { loadEmbedded } from './embedded.ts';
import { loadIdxDataset } from './fashion.ts';
import { fashionMnistDir } from './idx.ts';
import type { AgeBins } from './images.ts';

export interface DataOptions {
  /** [C, H, W] for image folders (default 3x32x32). */
  imageSize?: [number, number, number];
  skipBad?: boolean;
  ageBins?: AgeBins;
  labelColumn?: string;
  /** CSV and images:CSV: several 0/1 label columns (multi-label), names or 'prefix*'. */
  labelColumns?: string[];
  /** CSV: real-valued target columns (regression). */
  targetColumns?: string[];
  /** Folder of the decoded-image cache (image loaders); undefined: decode every time. */
  cacheDir?: string;
  /** Above this many MiB of decoded images, batches stream from the cache file instead of memory. */
  maxMemoryMiB?: number;
  progress?: (done: number, total: number) => void;
}

export const DATA_FORMS = 'embedded, fashion-mnist[:DIR], idx:DIR, utkface:DIR, pets:DIR, folder:DIR, images:CSV, csv:FILE';

/** The file or folder a --data form reads (undefined for embedded and the default Fashion-MNIST). */
export function dataPath(spec: string): string | undefined {
  const at = spec.indexOf(':');
  return at < 0 ? undefined : spec.slice(at + 1) || undefined;
}

/**
 * The folder a --data form scans for examples (folder:, utkface:, pets:), whose
 * every subfolder is data; undefined for the forms that read named files.
 */
export function scannedFolder(spec: string): string | undefined {
  const m = /^(folder|utkface|pets):(.+)$/.exec(spec);
  return m ? m[2] : undefined;
}

export async function loadData(spec: string, o: DataOptions = {}): Promise<Dataset> {
  const at = spec.indexOf(':');
  const kind = at < 0 ? spec : spec.slice(0, at);
  const arg = at < 0 ? undefined : spec.slice(at + 1);
  const need = () => {
    if (!arg) throw new DataError(`--data ${kind} needs a path: ${kind}:PATH`);
    return arg;
  };
  const images = {
    size: o.imageSize ?? ([3, 32, 32] as [number, number, number]),
    skipBad: o.skipBad,
    progress: o.progress,
    cacheDir: o.cacheDir,
    maxMemoryBytes: o.maxMemoryMiB === undefined ? undefined : o.maxMemoryMiB * 2 ** 20,
  };
  switch (kind) {
    case 'embedded':
      return loadEmbedded();
    case 'fashion-mnist':
      return loadIdxDataset(arg ?? fashionMnistDir(), 'fashion-mnist');
    case 'idx':
      return loadIdxDataset(need(), 'idx');
    // The image loaders pull in jimp, so they load only when asked for.
    case 'utkface':
      return (await import('./images.ts')).loadUtkface(need(), { ...images, bins: o.ageBins });
    case 'pets':
      return (await import('./images.ts')).loadPets(need(), images);
    case 'folder':
      return (await import('./images.ts')).loadFolder(need(), images);
    case 'images':
      return (await import('./images.ts')).loadImageCsv(need(), { ...images, labelColumns: o.labelColumns });
    case 'csv':
      return loadCsv(need(), { labelColumn: o.labelColumn, labelColumns: o.labelColumns, targetColumns: o.targetColumns });
    default:
      throw new DataError(`--data ${spec} is not understood; use one of: ${DATA_FORMS}`);
  }
}
