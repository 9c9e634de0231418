// PNG files written byte by byte, for the decoder's edge cases: any colour type,
// bit depth and interlacing, and pixel data cut short with every chunk intact.
import { crc32, deflateSync } from 'node:zlib';

export interface PngOptions {
  width: number;
  height: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
  colorType?: 0 | 2 | 3 | 4 | 6;
  bitDepth?: 1 | 2 | 4 | 8 | 16;
  interlaced?: boolean;
  /** Keep only this many bytes of the filtered pixel data (all of it by default). */
  keepBytes?: number;
}

const SAMPLES = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/** Filtered rows (filter byte 0, then samples of 0x55 bytes) for one image or Adam7 pass. */
function* rows(w: number, h: number, bitsPerPixel: number): Generator<Buffer> {
  if (w <= 0 || h <= 0) return;
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(Math.ceil((w * bitsPerPixel) / 8), 0x55)]);
  for (let y = 0; y < h; y++) yield row;
}

export function makePng(o: PngOptions): Buffer {
  const colorType = o.colorType ?? 2;
  const bitDepth = o.bitDepth ?? 8;
  const bpp = SAMPLES[colorType] * bitDepth;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(o.width, 0);
  ihdr.writeUInt32BE(o.height, 4);
  ihdr.set([bitDepth, colorType, 0, 0, o.interlaced ? 1 : 0], 8);
  const passes = o.interlaced ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] : [[0, 0, 1, 1]];
  // Rows only up to keepBytes, so a header of 60000 x 60000 costs nothing to write.
  const parts: Buffer[] = [];
  let length = 0;
  const limit = o.keepBytes ?? Infinity;
  for (const [x0, y0, dx, dy] of passes) {
    for (const row of rows(Math.ceil((o.width - x0!) / dx!), Math.ceil((o.height - y0!) / dy!), bpp)) {
      if (length >= limit) break;
      parts.push(row.subarray(0, Math.min(row.length, limit - length)));
      length += parts.at(-1)!.length;
    }
  }
  const data = Buffer.concat(parts);
  const palette = colorType === 3 ? [chunk('PLTE', Buffer.from(Array.from({ length: 3 * 2 ** bitDepth }, (_, i) => (i * 37) % 256)))] : [];
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), ...palette, chunk('IDAT', deflateSync(data)), chunk('IEND', Buffer.alloc(0))]);
}
