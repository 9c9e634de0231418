// The camera for labelling: getUserMedia into a <video>, frames read as RGBA
// pixels through a canvas (then resized by pixels.ts like any image).
import type { Rgba } from '../src/data/pixels.ts';

export class Webcam {
  private stream?: MediaStream;

  constructor(private readonly video: HTMLVideoElement) {}

  get isOpen(): boolean {
    return this.stream !== undefined;
  }

  async open(): Promise<void> {
    if (this.stream) return;
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser offers no camera here (getUserMedia needs https or localhost)');
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (e) {
      const name = (e as { name?: string }).name;
      throw new Error(`the camera could not be opened: ${name === 'NotAllowedError' ? 'permission was refused' : name === 'NotFoundError' ? 'no camera was found' : (e as Error).message}`);
    }
    this.video.srcObject = this.stream;
    await this.video.play();
    if (!this.video.videoWidth) await new Promise((r) => this.video.addEventListener('loadedmetadata', r, { once: true }));
  }

  /** The current frame's pixels. */
  frame(): Rgba {
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!this.stream || !width) throw new Error('the camera is not open');
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(this.video, 0, 0);
    return { width, height, data: ctx.getImageData(0, 0, width, height).data };
  }

  close(): void {
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = undefined;
    this.video.srcObject = null;
  }
}
