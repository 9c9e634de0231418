// The page's image decoder, off the page's thread: a 6000×4000 JPEG takes
// seconds in jpeg-js, and on the main thread the page froze for all of them.
// Bytes in, the model's input tensor (and the decoded size) out; the same
// decodePixels and pixelsToTensor as before, so tensors stay those of Node.
import { pixelsToTensor, type TensorSize } from '../src/data/pixels.ts';
import { decodePixels } from './decode.ts';

export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  size: TensorSize;
}

export type DecodeReply = { id: number; tensor: Float32Array; width: number; height: number } | { id: number; error: string };

self.onmessage = async (e: MessageEvent<DecodeRequest>) => {
  const { id, bytes, size } = e.data;
  try {
    const pixels = await decodePixels(bytes);
    const tensor = pixelsToTensor(pixels, size);
    (self as unknown as Worker).postMessage({ id, tensor, width: pixels.width, height: pixels.height } satisfies DecodeReply, [tensor.buffer]);
  } catch (err) {
    (self as unknown as Worker).postMessage({ id, error: err instanceof Error ? err.message : String(err) } satisfies DecodeReply);
  }
};
