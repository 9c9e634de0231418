// Frozen bodies are cheap: when an imported model trains only its new head
// (train=head, batch norm frozen, no augmentation), its body computes the same
// features for an image at every step. They are computed once per image
// here, and the head trains on them as a `linear` model whose parameters and
// optimizer state carry the same names as the full model's: its checkpoints
// are the full run's, and the full graphs (eval, export, the page) use them.
import { buildArtifacts, buildFeatureGraph, FEATURES_OUTPUT, type BuiltArtifacts } from '../artifacts/build.ts';
import type { Manifest } from '../artifacts/contract.ts';
import { readExample, type Dataset } from '../data/dataset.ts';
import { LossgraphError } from '../errors.ts';
import type { LossSpec } from '../losses/loss_spec.ts';
import type { ImportedModel } from '../models/onnx_import.ts';
import { Session, type SessionOptions } from '../runtime/session.ts';

/** Whether the body's features are the same at every step, so they can be computed once. */
export function featuresCacheable(imported: ImportedModel | undefined, augmented: boolean): imported is ImportedModel {
  const o = imported?.options;
  return o !== undefined && o.train === 'head' && o.bn === 'frozen' && o.head === 'replace' && !augmented;
}

export interface CachedFeatures {
  /** The data with each example's features in place of its image ([F, 1, 1]). */
  data: Dataset;
  /** The head alone, on features: the artifacts the training session runs. */
  head: BuiltArtifacts;
  seconds: number;
  imagesPerSecond: number;
}

/** Runs the frozen body once over every example of `data` and builds the head's artifacts for `spec`. */
export async function cacheFeatures(data: Dataset, full: Manifest, imported: ImportedModel, loss: LossSpec, opts: SessionOptions): Promise<CachedFeatures> {
  const spec = full.spec;
  const t0 = performance.now();
  const graph = buildFeatureGraph(spec, imported);
  const session = await Session.create(graph.bytes, opts);
  const f = graph.features;
  const size = data.shape.reduce((a, b) => a * b, 1);
  const features = new Float32Array(data.count * f);
  const batch = 64;
  const x = new Float32Array(batch * size);
  try {
    for (let start = 0; start < data.count; start += batch) {
      const n = Math.min(batch, data.count - start);
      for (let i = 0; i < n; i++) readExample(data, start + i, x.subarray(i * size, (i + 1) * size));
      const out = await session.run({ input: session.tensor('float32', x.subarray(0, n * size), [n, ...data.shape]) }, [FEATURES_OUTPUT]);
      features.set(out[FEATURES_OUTPUT]!.data as Float32Array, start * f);
    }
  } finally {
    await session.release();
  }
  const seconds = (performance.now() - t0) / 1000;
  const head = buildArtifacts({ ...spec, model: 'linear', input: [f, 1, 1] }, undefined, loss);
  // The head's checkpoint must be the full model's: the same tensors, by name and shape, in the same order.
  const carried = (m: Manifest) => m.carried.map((c) => `${c.name}:${c.shape.join('x')}`).join(',');
  if (carried(head.manifest) !== carried(full)) {
    throw new LossgraphError(`internal: the head on cached features carries ${carried(head.manifest)}, the model ${carried(full)}`);
  }
  return {
    data: { ...data, images: features, reader: undefined, shape: [f, 1, 1] },
    head,
    seconds,
    imagesPerSecond: data.count / seconds,
  };
}
