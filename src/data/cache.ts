// The decoded-image cache on disk. Decoding a folder of JPEGs is the slow part
// of loading it, so the decoded, resized tensors are written once to a cache
// file keyed by what they depend on (every file's path, size and mtime, its
// label, the model input size, --skip-bad); a later run with the same key reads
// them back instead of decoding. A data set larger than --max-memory is not
// held in memory at all: batches are read from the cache file as they are
// needed.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { writeAll, writeDurably } from '../artifacts/durable_write.ts';
import { DataError } from '../errors.ts';

const MAGIC = 'lossgraph-image-cache/1';

/** Where cached tensors go unless --cache-dir says otherwise. */
export function defaultCacheDir(): string {
  return process.env.LOSSGRAPH_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lossgraph');
}

/** Reads examples from a cache file on demand (a data set larger than the memory limit). */
export class ExampleReader {
  private fd: number | undefined;

  constructor(
    readonly path: string,
    private readonly dataOffset: number,
    readonly exampleSize: number,
  ) {}

  /** Example `index` into `into` (exampleSize floats). */
  read(index: number, into: Float32Array): void {
    this.fd ??= openSync(this.path, 'r');
    const bytes = new Uint8Array(into.buffer, into.byteOffset, this.exampleSize * 4);
    const at = this.dataOffset + index * this.exampleSize * 4;
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(this.fd, bytes, done, bytes.length - done, at + done);
      if (n === 0) throw new DataError(`${this.path}: the image cache ends early; delete it and load again`);
      done += n;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface CachedImages {
  /** The decoded examples, or an empty array when `reader` serves them. */
  images: Float32Array;
  reader?: ExampleReader;
  /** Per kept example: the index of its item in the list that was decoded. */
  kept: Int32Array;
  skipped: number;
  /** Whether this came from the cache (nothing was decoded). */
  hit: boolean;
}

export interface CacheOptions {
  /** Folder for cache files; undefined disables the cache. */
  dir?: string;
  /** Above this many bytes of decoded examples, batches are read from the cache file instead of memory. */
  maxMemoryBytes?: number;
}

/**
 * The decoding pipeline's version, part of every key: a change to how pixels
 * become tensors (2: transparency composited over white, EXIF orientation in
 * the page too) must not reuse tensors decoded the old way.
 */
const DECODER_VERSION = 2;

/** The cache key: every input the decoded tensors depend on. */
export function cacheKey(items: readonly { path: string; label: number }[], recipe: unknown): string {
  const h = createHash('sha256');
  h.update(`decoder ${DECODER_VERSION}\n`);
  h.update(JSON.stringify(recipe));
  for (const it of items) {
    let st: { size: number; mtimeMs: number } = { size: -1, mtimeMs: -1 };
    try {
      st = statSync(it.path);
    } catch {
      // a missing file is part of the key too: decoding will report it
    }
    h.update(`${it.path}\0${it.label}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 32);
}

interface Header {
  magic: string;
  count: number;
  exampleSize: number;
  kept: number[];
  skipped: number;
}

function readHeader(path: string): { header: Header; dataOffset: number } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const len = Buffer.alloc(4);
    if (readSync(fd, len, 0, 4, 0) !== 4) return undefined;
    const n = len.readUInt32LE(0);
    const json = Buffer.alloc(n);
    if (readSync(fd, json, 0, n, 4) !== n) return undefined;
    const header = JSON.parse(json.toString('utf8')) as Header;
    if (header.magic !== MAGIC) return undefined;
    const dataOffset = 4 + n + ((4 - ((4 + n) % 4)) % 4);
    if (statSync(path).size !== dataOffset + header.count * header.exampleSize * 4) return undefined;
    return { header, dataOffset };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function loadEntry(path: string, o: CacheOptions): CachedImages | undefined {
  const found = readHeader(path);
  if (!found) return undefined;
  const { header, dataOffset } = found;
  const bytes = header.count * header.exampleSize * 4;
  const reader = new ExampleReader(path, dataOffset, header.exampleSize);
  const base = { kept: Int32Array.from(header.kept), skipped: header.skipped, hit: true };
  if (o.maxMemoryBytes !== undefined && bytes > o.maxMemoryBytes) return { images: new Float32Array(0), reader, ...base };
  const images = new Float32Array(header.count * header.exampleSize);
  for (let i = 0; i < header.count; i++) reader.read(i, images.subarray(i * header.exampleSize, (i + 1) * header.exampleSize));
  reader.close();
  return { images, ...base };
}

/**
 * The decoded examples of `items`: from the cache when its key matches, else
 * decoded by `decode` (one item at a time, undefined for a skipped one) and
 * written to the cache (through a temporary file, renamed when complete).
 * Without a cache folder, a data set above the memory limit is refused.
 */
export async function cachedDecode<T extends { path: string; label: number }>(
  items: readonly T[],
  exampleSize: number,
  recipe: unknown,
  o: CacheOptions,
  decode: (item: T, index: number) => Promise<Float32Array | undefined>,
): Promise<CachedImages> {
  const bytes = items.length * exampleSize * 4;
  const tooBig = o.maxMemoryBytes !== undefined && bytes > o.maxMemoryBytes;
  if (!o.dir) {
    const mib = (b: number) => (b / 2 ** 20).toFixed(b < 10 * 2 ** 20 ? 2 : 0);
    if (tooBig) throw new DataError(`the decoded images need ${mib(bytes)} MiB, above --max-memory ${mib(o.maxMemoryBytes!)} MiB; keep the disk cache on (no --no-cache) to stream them from disk`);
    return decodeInMemory(items, exampleSize, decode);
  }
  makeCacheFolder(o.dir);
  const path = join(o.dir, `${cacheKey(items, recipe)}.bin`);
  if (existsSync(path)) {
    const hit = loadEntry(path, o);
    if (hit) return hit;
  }
  if (!tooBig) {
    const decoded = await decodeInMemory(items, exampleSize, decode);
    writeEntry(path, exampleSize, decoded.kept, decoded.skipped, (fd) => writeAll(fd, new Uint8Array(decoded.images.buffer)));
    return decoded;
  }
  // Too big for memory: decode straight into the cache file, then read batches from it.
  const kept: number[] = [];
  let skipped = 0;
  // Not writeEntry's temporary name: finishing copies from this file into that one.
  const tmp = `${path}.stream-tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let reserve = 0;
  try {
    // The header's size depends on `kept`, known only at the end: the data goes after a gap, and is moved up then.
    reserve = headerBytes({ magic: MAGIC, count: items.length, exampleSize, kept: items.map((_, i) => i), skipped: items.length });
    let at = reserve;
    for (const [i, item] of items.entries()) {
      const x = await decode(item, i);
      if (!x) {
        skipped++;
        continue;
      }
      const b = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
      writeAll(fd, b, at);
      at += b.length;
      kept.push(i);
    }
    closeSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  finishStreamed(tmp, path, reserve, exampleSize, kept, skipped);
  return { ...loadEntry(path, o)!, hit: false };
}

/**
 * Creates the cache folder one level at a time, so that a folder that cannot be
 * made is one line naming it: mkdirSync's recursive form threw an internal error
 * for HOME=/nonexistent and never returned for a path under /proc.
 */
function makeCacheFolder(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new DataError(`the image cache folder ${dir} cannot be created (${code} at ${d}); give another with --cache-dir, or --no-cache`);
    }
  }
  if (!statSync(dir).isDirectory()) throw new DataError(`the image cache folder ${dir} is a file; give another with --cache-dir, or --no-cache`);
}

async function decodeInMemory<T>(items: readonly T[], exampleSize: number, decode: (item: T, index: number) => Promise<Float32Array | undefined>): Promise<CachedImages> {
  const parts: Float32Array[] = [];
  const kept: number[] = [];
  let skipped = 0;
  for (const [i, item] of items.entries()) {
    const x = await decode(item, i);
    if (!x) skipped++;
    else {
      parts.push(x);
      kept.push(i);
    }
  }
  return { images: stackImages(parts, exampleSize), kept: Int32Array.from(kept), skipped, hit: false };
}

function headerBytes(h: Header): number {
  const n = Buffer.byteLength(JSON.stringify(h));
  return 4 + n + ((4 - ((4 + n) % 4)) % 4);
}

/** Writes header + data durably (durable_write.ts): a reader never sees half an entry. */
function writeEntry(path: string, exampleSize: number, kept: Int32Array, skipped: number, data: (fd: number) => void): void {
  const header: Header = { magic: MAGIC, count: kept.length, exampleSize, kept: Array.from(kept), skipped };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((4 + json.length) % 4)) % 4;
  writeDurably(path, (fd) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(json.length + pad, 0);
    writeAll(fd, len);
    writeAll(fd, Buffer.concat([json, Buffer.alloc(pad, 0x20)]));
    data(fd);
  });
}

/** A streamed cache file: the data was written after a reserved gap; move it behind the real header. */
function finishStreamed(tmp: string, path: string, reserve: number, exampleSize: number, kept: number[], skipped: number): void {
  const chunk = 1 << 20;
  const src = openSync(tmp, 'r');
  try {
    writeEntry(path, exampleSize, Int32Array.from(kept), skipped, (fd) => {
      const buf = new Uint8Array(chunk);
      const total = kept.length * exampleSize * 4;
      for (let done = 0; done < total; ) {
        const n = readSync(src, buf, 0, Math.min(chunk, total - done), reserve + done);
        if (n === 0) throw new DataError(`${tmp}: the streamed image cache ended early`);
        writeAll(fd, buf.subarray(0, n));
        done += n;
      }
    });
  } finally {
    closeSync(src);
    rmSync(tmp, { force: true });
  }
}

/** Concatenates per-example arrays (all of one shape) into a Dataset's image buffer. */
function stackImages(items: readonly Float32Array[], size: number): Float32Array {
  const out = new Float32Array(items.length * size);
  items.forEach((x, i) => out.set(x, i * size));
  return out;
}
