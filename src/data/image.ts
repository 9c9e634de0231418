// Image decoding with jimp (JPEG, PNG, BMP, GIF, TIFF): one image in, one
// C x H x W float tensor in [0, 1] out, at the model's input size. Loaders
// decode each file once into their cache, so this is not on the training path.
import { Jimp } from 'jimp';
import { LossgraphError } from '../errors.ts';

export interface ImageSize {
  width: number;
  height: number;
  /** 1 for grayscale (ITU-R BT.601 luma), 3 for RGB. */
  channels: 1 | 3;
}

/** Decodes `source` (a path or the file's bytes) and resizes it; `where` names it in errors. */
export async function decodeImage(source: string | Buffer, size: ImageSize, where = typeof source === 'string' ? source : 'image'): Promise<Float32Array> {
  let image: Awaited<ReturnType<typeof Jimp.read>>;
  try {
    image = await Jimp.read(source);
  } catch (e) {
    const reason = String((e as Error).message ?? e).split('\n')[0];
    throw new LossgraphError(`${where}: cannot decode image (${reason})`);
  }
  if (image.bitmap.width !== size.width || image.bitmap.height !== size.height) {
    image.resize({ w: size.width, h: size.height });
  }
  const rgba = image.bitmap.data;
  const plane = size.width * size.height;
  const out = new Float32Array(size.channels * plane);
  for (let p = 0; p < plane; p++) {
    const r = rgba[4 * p]! / 255;
    const g = rgba[4 * p + 1]! / 255;
    const b = rgba[4 * p + 2]! / 255;
    if (size.channels === 1) out[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    else {
      out[p] = r;
      out[plane + p] = g;
      out[2 * plane + p] = b;
    }
  }
  return out;
}
