// EXIF orientation: how a camera says its JPEG must be turned to be upright.
// jimp applies it when Node decodes; the page's JPEG decoder (jpeg-js) does
// not, so the page reads the tag here and turns the pixels the same way, and
// both see the same upright image. No imports: it is bundled into the page.
import type { Rgba } from './pixels.ts';

/** The EXIF orientation (1-8) of a JPEG's bytes; 1 (as stored) when it has none or is not a JPEG. */
export function exifOrientation(bytes: Uint8Array): number {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return 1;
  let p = 2;
  while (p + 4 <= bytes.length && bytes[p] === 0xff) {
    const marker = bytes[p + 1]!;
    const length = (bytes[p + 2]! << 8) | bytes[p + 3]!;
    // Start of scan: no metadata after it.
    if (marker === 0xda || length < 2) return 1;
    const start = p + 4;
    if (marker === 0xe1 && length >= 16 && String.fromCharCode(...bytes.subarray(start, start + 4)) === 'Exif') {
      const found = tiffOrientation(bytes.subarray(start + 6, Math.min(bytes.length, p + 2 + length)));
      if (found) return found;
    }
    p += 2 + length;
  }
  return 1;
}

/** Tag 0x0112 of the first IFD of a TIFF block, or undefined. */
function tiffOrientation(t: Uint8Array): number | undefined {
  if (t.length < 8) return undefined;
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return undefined;
  const u16 = (o: number) => (o + 2 <= t.length ? (little ? t[o]! | (t[o + 1]! << 8) : (t[o]! << 8) | t[o + 1]!) : 0);
  const u32 = (o: number) => (o + 4 <= t.length ? (little ? u16(o) + u16(o + 2) * 65536 : u16(o) * 65536 + u16(o + 2)) : 0);
  const ifd = u32(4);
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > t.length) return undefined;
    if (u16(e) === 0x0112) {
      const v = u16(e + 8);
      return v >= 1 && v <= 8 ? v : undefined;
    }
  }
  return undefined;
}

/**
 * The pixels turned upright for EXIF orientation `o`: 2 mirror, 3 rotate 180,
 * 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
 */
export function applyOrientation(src: Rgba, o: number): Rgba {
  if (o <= 1 || o > 8) return src;
  const { width: w, height: h } = src;
  const swap = o >= 5;
  const [W, H] = swap ? [h, w] : [w, h];
  const data = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // The source pixel that lands at (x, y) of the upright image.
      let sx: number;
      let sy: number;
      switch (o) {
        case 2: [sx, sy] = [w - 1 - x, y]; break;
        case 3: [sx, sy] = [w - 1 - x, h - 1 - y]; break;
        case 4: [sx, sy] = [x, h - 1 - y]; break;
        case 5: [sx, sy] = [y, x]; break;
        case 6: [sx, sy] = [y, h - 1 - x]; break;
        case 7: [sx, sy] = [w - 1 - y, h - 1 - x]; break;
        default: [sx, sy] = [w - 1 - y, x]; break; // 8
      }
      const from = 4 * (sy * w + sx);
      const to = 4 * (y * W + x);
      for (let c = 0; c < 4; c++) data[to + c] = src.data[from + c]!;
    }
  }
  return { width: W, height: H, data };
}
