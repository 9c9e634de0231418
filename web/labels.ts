// The images a person labels for fine-tuning in the page, by class, and
// which of them train and which are held back to check the model on images
// it does not train on.
export interface Labelled {
  id: number;
  /** The model's input tensor for the image. */
  x: Float32Array;
  label: number;
  /** A small picture of the model's input, for the class card. */
  thumb: string;
}

/** In each class with at least this many images, every HOLD_EVERY-th is held back from training. */
export const HOLD_EVERY = 5;

export class LabelledSet {
  private items: Labelled[] = [];
  private nextId = 1;

  get size(): number {
    return this.items.length;
  }

  add(x: Float32Array, label: number, thumb: string): Labelled {
    const item = { id: this.nextId++, x, label, thumb };
    this.items.push(item);
    return item;
  }

  remove(id: number): boolean {
    const before = this.items.length;
    this.items = this.items.filter((i) => i.id !== id);
    return this.items.length < before;
  }

  clearClass(label: number): void {
    this.items = this.items.filter((i) => i.label !== label);
  }

  clear(): void {
    this.items = [];
  }

  /** Keeps the images of the first `classes` classes (a renamed class keeps its images); returns how many were dropped. */
  keepClasses(classes: number): number {
    const before = this.items.length;
    this.items = this.items.filter((i) => i.label < classes);
    return before - this.items.length;
  }

  ofClass(label: number): Labelled[] {
    return this.items.filter((i) => i.label === label);
  }

  /** Training and held-back images, each in the order they were added. */
  split(): { train: Labelled[]; validation: Labelled[] } {
    const seen = new Map<number, number>();
    const counts = new Map<number, number>();
    for (const i of this.items) counts.set(i.label, (counts.get(i.label) ?? 0) + 1);
    const train: Labelled[] = [];
    const validation: Labelled[] = [];
    for (const i of this.items) {
      const n = (seen.get(i.label) ?? 0) + 1;
      seen.set(i.label, n);
      (counts.get(i.label)! >= HOLD_EVERY && n % HOLD_EVERY === 0 ? validation : train).push(i);
    }
    return { train, validation };
  }
}

/** Images and labels as the worker takes them. */
export function stack(items: readonly Labelled[]): { images: Float32Array; labels: Int32Array } {
  const size = items[0]?.x.length ?? 0;
  const images = new Float32Array(items.length * size);
  items.forEach((item, i) => images.set(item.x, i * size));
  return { images, labels: Int32Array.from(items, (i) => i.label) };
}
