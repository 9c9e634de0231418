// IDX files (the MNIST family's format), plain or gzipped.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { DataError } from '../errors.ts';
import { unreadable } from './unreadable.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parses IDX bytes with unsigned-byte elements (type code 0x08), the only kind the MNIST sets use. */
export function parseIdx(bytes: Uint8Array, where: string): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new DataError(`${where}: not an IDX file (bad magic number)`);
  if (bytes[2] !== 0x08) throw new DataError(`${where}: IDX element type 0x${bytes[2]!.toString(16)} is not supported (only unsigned bytes)`);
  const rank = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * rank) throw new DataError(`${where}: truncated IDX header`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const n = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (bytes.length - start !== n) throw new DataError(`${where}: IDX header promises ${n} values, file holds ${bytes.length - start}`);
  return { dims, data: bytes.subarray(start) };
}

/** Encodes unsigned bytes as IDX (used to write test fixtures and the shipped subset). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw unreadable(path, e, 'file');
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch {
      throw new DataError(`${path}: corrupt gzip data`);
    }
  }
  return parseIdx(bytes, path);
}

export interface ImageSplit {
  /** Pixels scaled to [0, 1], N x rows x cols, row-major. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
  rows: number;
  cols: number;
}

/** Reads `<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]` from `dir`. */
export function readIdxSplit(dir: string, prefix: string): ImageSplit {
  const find = (stem: string) => [join(dir, `${stem}.gz`), join(dir, stem)].find((p) => existsSync(p)) ?? join(dir, `${stem}.gz`);
  const imgPath = find(`${prefix}-images-idx3-ubyte`);
  const lblPath = find(`${prefix}-labels-idx1-ubyte`);
  const img = readIdx(imgPath);
  const lbl = readIdx(lblPath);
  if (img.dims.length !== 3) throw new DataError(`${imgPath}: expected N x rows x cols images, got dims [${img.dims}]`);
  if (lbl.dims.length !== 1 || lbl.dims[0] !== img.dims[0]) {
    throw new DataError(`${lblPath}: ${lbl.dims[0]} labels for ${img.dims[0]} images`);
  }
  const images = new Float32Array(img.data.length);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i]! / 255;
  return { images, labels: Int32Array.from(lbl.data), count: img.dims[0]!, rows: img.dims[1]!, cols: img.dims[2]! };
}

/** Debian's dataset-fashion-mnist package installs the full set here. */
export const SYSTEM_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';
/** The subset shipped with lossgraph (see datasets/fashion-mnist-subset/README.md). */
export const SHIPPED_FASHION_MNIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'datasets', 'fashion-mnist-subset');

/** The full Fashion-MNIST where it is installed, else the shipped subset. */
export function fashionMnistDir(): string {
  return existsSync(join(SYSTEM_FASHION_MNIST, 'train-images-idx3-ubyte.gz')) ? SYSTEM_FASHION_MNIST : SHIPPED_FASHION_MNIST;
}
