// Image decoding with jimp (JPEG, PNG, BMP, GIF, TIFF): one image in, one
// C x H x W float tensor in [0, 1] out, at the model's input size (resized by
// pixels.ts, which the web page shares). Loaders decode each file once into
// their cache, so this is not on the training path.
import { Jimp } from 'jimp';
import { DataError } from '../errors.ts';
import { pixelsToTensor, type TensorSize } from './pixels.ts';

export type ImageSize = TensorSize;

/** Decodes `source` (a path, or the file's bytes) and resizes it; `where` names it in errors. */
export async function decodeImage(source: string | Uint8Array | ArrayBuffer, size: ImageSize, where = typeof source === 'string' ? source : 'image'): Promise<Float32Array> {
  let image: Awaited<ReturnType<typeof Jimp.read>>;
  try {
    const bytes = typeof source === 'string' ? undefined : source instanceof Uint8Array ? source : new Uint8Array(source);
    image = await Jimp.read(bytes ? (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer) : (source as string));
  } catch (e) {
    const reason = String((e as Error).message ?? e).split('\n')[0];
    throw new DataError(`${where}: cannot decode image (${reason})`);
  }
  return pixelsToTensor(image.bitmap, size);
}
