// The model's input tensor as a picture: the "what the model sees" canvas and
// the class cards' thumbnails draw the same way.
export function tensorToImageData(x: Float32Array, [channels, height, width]: readonly [number, number, number]): ImageData {
  const img = new ImageData(width, height);
  const plane = width * height;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) img.data[4 * i + c] = Math.round(255 * x[(channels === 3 ? c : 0) * plane + i]!);
    img.data[4 * i + 3] = 255;
  }
  return img;
}

export function drawTensor(canvas: HTMLCanvasElement, x: Float32Array, shape: readonly [number, number, number]): void {
  canvas.width = shape[2];
  canvas.height = shape[1];
  canvas.getContext('2d')!.putImageData(tensorToImageData(x, shape), 0, 0);
}

/** A PNG data URL of the model's input, for a thumbnail. */
export function tensorThumbnail(x: Float32Array, shape: readonly [number, number, number]): string {
  const canvas = document.createElement('canvas');
  drawTensor(canvas, x, shape);
  return canvas.toDataURL('image/png');
}
