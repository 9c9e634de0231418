// Image bytes -> RGBA pixels in the page. JPEG goes through jpeg-js, the
// decoder jimp uses in Node, so its pixels are the Node loader's exactly; PNG,
// GIF, BMP and the rest through the browser's own decoders with colour
// management and premultiplication off, which is lossless for opaque PNGs
// (transparent pixels lose their colour in a canvas; pixels.ts composites
// over white in both places, so they agree there too).
import jpeg from 'jpeg-js';
import { applyOrientation, exifOrientation } from '../src/data/orientation.ts';
import type { Rgba } from '../src/data/pixels.ts';

const isJpeg = (b: Uint8Array) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

export async function decodePixels(bytes: Uint8Array): Promise<Rgba> {
  if (isJpeg(bytes)) {
    const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    // Upright as jimp makes it in Node (jpeg-js ignores the camera's EXIF orientation).
    return applyOrientation({ width: image.width, height: image.height, data: image.data }, exifOrientation(bytes));
  }
  const bitmap = await createImageBitmap(new Blob([bytes as BlobPart]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { colorSpace: 'srgb' })!;
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, width, height).data;
  bitmap.close();
  return { width, height, data };
}
