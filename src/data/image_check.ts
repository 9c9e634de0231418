// What is checked of an image file before it is decoded. jimp's PNG decoder
// fills a bitmap it allocated uninitialised and stops where the compressed data
// stops, so a truncated PNG decoded to different garbage rows on every try;
// and a decoder allocates whatever the header claims, so 69 bytes claiming
// 60000 x 60000 pixels took 7 GB. The header is read first (image-size) against
// a pixel budget, and a PNG's pixel data is counted (inflated without being
// kept) against what its header promises.
import { imageSize } from 'image-size';
import { createInflate } from 'node:zlib';
import { DataError } from '../errors.ts';

/** Larger images are refused: 100 megapixels (a 12000 x 8000 photograph) decode to 400 MB of RGBA. */
export const MAX_IMAGE_PIXELS = 100_000_000;

/** Refuses an image whose header claims more than the pixel budget, or a PNG whose pixel data is short. */
export async function checkImageBytes(bytes: Uint8Array, where: string): Promise<void> {
  let size: { width?: number; height?: number; type?: string };
  try {
    size = imageSize(bytes);
  } catch {
    return; // not a format image-size knows: the decoder says what it is
  }
  const { width = 0, height = 0 } = size;
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new DataError(`${where}: ${width}x${height} is ${Math.round((width * height) / 1e6)} megapixels; images above ${MAX_IMAGE_PIXELS / 1e6} megapixels are refused (resize it first)`);
  }
  if (size.type === 'png') await checkPngData(bytes, where);
}

/** Bytes of filtered pixel data a PNG of this header holds: one filter byte and the packed samples per row, per Adam7 pass if interlaced. */
function pngDataBytes(width: number, height: number, bitDepth: number, colorType: number, interlaced: boolean): number {
  const samples = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (samples === undefined) return NaN;
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * samples * bitDepth) / 8)) : 0);
  if (!interlaced) return rows(width, height);
  // Adam7: the seven passes' starting column/row and step.
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  return passes.reduce((sum, [x0, y0, dx, dy]) => sum + rows(Math.ceil((width - x0!) / dx!), Math.ceil((height - y0!) / dy!)), 0);
}

async function checkPngData(bytes: Uint8Array, where: string): Promise<void> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let expected = NaN;
  const idat: Uint8Array[] = [];
  // Chunks: length, type, data, CRC, after the 8-byte signature.
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, Math.min(at + 8 + length, bytes.length));
    if (type === 'IHDR' && data.length >= 13) {
      expected = pngDataBytes(view.getUint32(at + 8), view.getUint32(at + 12), data[8]!, data[9]!, data[12] === 1);
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    at += 12 + length;
  }
  if (!Number.isFinite(expected)) return; // a header the decoder will refuse with its own words
  let got = 0;
  let complete = true;
  await new Promise<void>((resolve) => {
    const inflate = createInflate();
    inflate.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got > expected) inflate.destroy();
    });
    inflate.on('error', () => {
      complete = false;
      resolve();
    });
    inflate.on('close', resolve);
    inflate.on('end', resolve);
    for (const d of idat) inflate.write(d);
    inflate.end();
  });
  if (got < expected || !complete) {
    throw new DataError(`${where}: the PNG is truncated (its pixel data holds ${got} of the ${expected} bytes its header promises)`);
  }
}
