// Image decoding with jimp (JPEG, PNG, BMP, GIF, TIFF): one image in, one
// C x H x W float tensor in [0, 1] out, at the model's input size (resized by
// pixels.ts, which the web page shares). Loaders decode each file once into
// their cache, so this is not on the training path.
import { readFile } from 'node:fs/promises';
import { Jimp } from 'jimp';
import { DataError } from '../errors.ts';
import { checkImageBytes } from './image_check.ts';
import { unreadable } from './unreadable.ts';
import { pixelsToTensor, type TensorSize } from './pixels.ts';

export type ImageSize = TensorSize;

/** Decodes `source` (a path, or the file's bytes) and resizes it; `where` names it in errors. */
export async function decodeImage(source: string | Uint8Array | ArrayBuffer, size: ImageSize, where = typeof source === 'string' ? source : 'image'): Promise<Float32Array> {
  let bytes: Uint8Array;
  try {
    bytes = typeof source === 'string' ? await readFile(source) : source instanceof Uint8Array ? source : new Uint8Array(source);
  } catch (e) {
    throw unreadable(where, e, 'file');
  }
  await checkImageBytes(bytes, where);
  let image: Awaited<ReturnType<typeof Jimp.read>>;
  try {
    image = await Jimp.read(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  } catch (e) {
    const reason = String((e as Error).message ?? e).split('\n')[0];
    throw new DataError(`${where}: cannot decode image (${reason})`);
  }
  return pixelsToTensor(image.bitmap, size);
}
