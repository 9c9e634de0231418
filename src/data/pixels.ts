// Decoded RGBA pixels -> the model's C x H x W input in [0, 1]. The Node
// loaders and the web page both run this code after their decoders (jimp in
// Node; jpeg-js, the decoder jimp itself uses for JPEG, or the browser's own
// for PNG in the page), so the same file gives the same tensor in both.
// No imports: it is bundled into the page.

export interface Rgba {
  width: number;
  height: number;
  /** width * height * 4 bytes, RGBA, not premultiplied. */
  data: ArrayLike<number>;
}

export interface TensorSize {
  width: number;
  height: number;
  /** 1 for grayscale (ITU-R BT.601 luma), 3 for RGB. */
  channels: 1 | 3;
}

/**
 * Source pixels and weights that make up output coordinate `o` along one axis
 * of `n` source pixels resized to `m`: the area each output pixel covers when
 * shrinking (a box filter, so no aliasing), linear interpolation between the
 * two nearest centres (half-pixel convention) when enlarging.
 */
function taps(n: number, m: number): { index: number[]; weight: number[] }[] {
  const scale = n / m;
  return Array.from({ length: m }, (_, o) => {
    const index: number[] = [];
    const weight: number[] = [];
    if (scale > 1) {
      const lo = o * scale;
      const hi = lo + scale;
      for (let i = Math.floor(lo); i < Math.min(n, Math.ceil(hi)); i++) {
        const w = Math.min(hi, i + 1) - Math.max(lo, i);
        if (w > 0) {
          index.push(i);
          weight.push(w / scale);
        }
      }
    } else {
      const x = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), n - 1);
      const i = Math.floor(x);
      const f = x - i;
      index.push(i);
      weight.push(1 - f);
      if (f > 0) {
        index.push(Math.min(i + 1, n - 1));
        weight.push(f);
      }
    }
    return { index, weight };
  });
}

/**
 * The model input for decoded pixels: composited over white by alpha, resized
 * (separably, in float), scaled to [0, 1], in C x H x W planes.
 */
export function pixelsToTensor(src: Rgba, size: TensorSize): Float32Array {
  const { width: w, height: h, channels } = size;
  const plane = w * h;
  const out = new Float32Array(channels * plane);
  const xs = taps(src.width, w);
  const ys = taps(src.height, h);
  const rgb = [0, 0, 0];
  for (let y = 0; y < h; y++) {
    const ty = ys[y]!;
    for (let x = 0; x < w; x++) {
      const tx = xs[x]!;
      rgb[0] = rgb[1] = rgb[2] = 0;
      for (let a = 0; a < ty.index.length; a++) {
        const row = ty.index[a]! * src.width;
        for (let b = 0; b < tx.index.length; b++) {
          const k = 4 * (row + tx.index[b]!);
          const wgt = ty.weight[a]! * tx.weight[b]!;
          // Over white by alpha: a transparent pixel is white whatever colour it stores
          // (a browser canvas keeps none for it, jimp keeps whatever the file held).
          const alpha = src.data[k + 3]! / 255;
          const white = 255 * (1 - alpha);
          rgb[0] += wgt * (src.data[k]! * alpha + white);
          rgb[1] += wgt * (src.data[k + 1]! * alpha + white);
          rgb[2] += wgt * (src.data[k + 2]! * alpha + white);
        }
      }
      const p = y * w + x;
      if (channels === 1) out[p] = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255;
      else {
        out[p] = rgb[0] / 255;
        out[plane + p] = rgb[1] / 255;
        out[2 * plane + p] = rgb[2] / 255;
      }
    }
  }
  return out;
}
