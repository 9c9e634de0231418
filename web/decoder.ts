// The page's side of the decoder worker: one request at a time per call,
// answered by id, so a slow decode never blocks the page and a reply for a
// file the person has moved on from can be told apart.
import type { TensorSize } from '../src/data/pixels.ts';
import type { DecodeReply, DecodeRequest } from './decoder_worker.ts';

export class Decoder {
  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, { resolve(r: { tensor: Float32Array; width: number; height: number }): void; reject(e: Error): void }>();

  constructor(url: URL) {
    this.worker = new Worker(url, { type: 'module' });
    this.worker.onmessage = (e: MessageEvent<DecodeReply>) => {
      const w = this.waiting.get(e.data.id);
      this.waiting.delete(e.data.id);
      if (!w) return;
      if ('error' in e.data) w.reject(new Error(e.data.error));
      else w.resolve(e.data);
    };
  }

  /** The model's input for an image file's bytes, decoded in the worker. */
  decode(bytes: Uint8Array, size: TensorSize): Promise<{ tensor: Float32Array; width: number; height: number }> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, bytes, size } satisfies DecodeRequest);
    });
  }
}
