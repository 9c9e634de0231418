// Reference models, sized from a short spec: `mlp:512` or `mlp:512,256`
// (hidden widths), `cnn:32,64,128` (filters of each conv block). The head
// follows the loss: K logits, K-1 ordinal thresholds, or an embedding.
import { ArgumentError } from '../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';
import { ONNX_MODEL_PREFIX, parseOnnxModelSpec, type ImportedModel, type OnnxModelOptions } from './onnx_import.ts';
import { emitImportedBody } from './onnx_rebuild.ts';
import type { ModelBuilder } from './builder.ts';

/**
 * A zoo model; `linear`, the head alone on the flattened input (a linear
 * probe: what a frozen imported body's head trains as on cached features);
 * or an imported ONNX model (its options; the model itself is read at the edge).
 */
export type ModelSpec = ZooModelSpec | { kind: 'linear' } | { kind: 'onnx'; options: OnnxModelOptions };

export interface ZooModelSpec {
  kind: 'mlp' | 'cnn';
  widths: number[];
  /** Dropout before the head (0 disables it). */
  dropout: number;
  /** CNN downsampling after each block: 2x2 max or average pooling. */
  pool: 'max' | 'avg';
  /** CNN features before the head: flatten + dense 128, or global average pooling. */
  features: 'dense' | 'gap';
}

export type HeadSpec =
  | { kind: 'logits'; classes: number }
  /** CORAL: one shared weight vector and K-1 biases, which makes the thresholds rank-consistent. */
  | { kind: 'coral'; classes: number }
  /** CORN (and other threshold losses): an ordinary dense layer with K-1 outputs. */
  | { kind: 'thresholds'; classes: number }
  | { kind: 'embedding'; classes: number; dim: number };

const DEFAULT_DROPOUT = { mlp: 0, cnn: 0.2 };

/**
 * Parses `mlp:W[,W...]` or `cnn:F[,F...]`, with options after semicolons:
 * `;dropout=R`, and for CNNs `;pool=max|avg` and `;head=dense|gap`.
 */
export function parseModelSpec(text: string): ModelSpec {
  if (text.trim().startsWith(ONNX_MODEL_PREFIX)) return { kind: 'onnx', options: parseOnnxModelSpec(text.trim().slice(ONNX_MODEL_PREFIX.length)) };
  if (text.trim() === 'linear') return { kind: 'linear' };
  const m = /^(mlp|cnn):(\d+(?:,\d+)*)((?:;[a-z]+=[a-z0-9.]+)*)$/.exec(text.trim());
  if (!m) throw new ArgumentError(`model '${text}' is not understood; use mlp:WIDTHS, cnn:FILTERS, linear or onnx:FILE, e.g. mlp:512, cnn:32,64,128 or 'onnx:resnet18.onnx;head=replace;train=head'`);
  const kind = m[1] as 'mlp' | 'cnn';
  const widths = m[2]!.split(',').map(Number);
  if (widths.some((w) => w < 1 || w > 65536)) throw new ArgumentError(`model '${text}': widths must be between 1 and 65536`);
  const spec: ZooModelSpec = { kind, widths, dropout: DEFAULT_DROPOUT[kind], pool: 'max', features: 'dense' };
  for (const opt of m[3]!.split(';').filter(Boolean)) {
    const [key, value] = opt.split('=') as [string, string];
    if (key === 'dropout') {
      spec.dropout = Number(value);
      if (!(spec.dropout >= 0 && spec.dropout < 1)) throw new ArgumentError(`model '${text}': dropout must be in [0, 1)`);
    } else if (key === 'pool' && kind === 'cnn' && (value === 'max' || value === 'avg')) spec.pool = value;
    else if (key === 'head' && kind === 'cnn' && (value === 'dense' || value === 'gap')) spec.features = value;
    else throw new ArgumentError(`model '${text}': option '${opt}' is not known (dropout=R; for cnn also pool=max|avg, head=dense|gap)`);
  }
  return spec;
}

/**
 * x: [B, C, H, W] images. Returns the head's output. An imported model
 * (`imported`, read at the edge) takes x adapted to its input size.
 */
export function forwardModel(m: ModelBuilder, spec: ModelSpec, x: Value, head: HeadSpec, imported?: ImportedModel): Value {
  const g = m.g;
  if (spec.kind === 'linear') return attachHead(m, g.flatten(x, 1), head);
  if (spec.kind === 'onnx') {
    if (!imported) throw new ArgumentError(`model '${spec.options.path}': the imported model was not read (build it through lossgraph's CLI, or pass importOnnxModel's result)`);
    if (imported.options.head === 'keep') return checkKeptHead(emitImportedBody(m, imported, adaptInput(g, x, imported.inputShape)), head, imported);
    return attachHead(m, importedFeatures(m, imported, x), head);
  }
  let h = x;
  if (spec.kind === 'cnn') {
    spec.widths.forEach((filters, i) => {
      h = m.batchNorm(`bn${i}`, m.conv2d(`conv${i}`, h, filters));
      // Pool while the feature map is at least 2 x 2. ReLU commutes with max
      // pooling (both values and gradients), so it runs after the max pool, on
      // a quarter of the elements; average pooling needs it first.
      const pooled = Number(h.shape[2]) >= 2 && Number(h.shape[3]) >= 2;
      if (pooled && spec.pool === 'max') h = g.relu(m.maxPool2d(h));
      else if (pooled) h = m.avgPool2d(g.relu(h));
      else h = g.relu(h);
    });
    h = spec.features === 'gap' ? g.flatten(g.globalAveragePool(h), 1) : g.relu(m.dense('dense0', g.flatten(h, 1), 128));
  } else {
    h = g.flatten(h, 1);
    spec.widths.forEach((w, i) => (h = g.relu(m.dense(`dense${i}`, h, w))));
  }
  h = m.dropout(h, spec.dropout);
  return attachHead(m, h, head);
}

/** What a replaced head reads: the imported body's features on x (adapted to the model's input), flattened to [B, F]. */
export function importedFeatures(m: ModelBuilder, imported: ImportedModel, x: Value): Value {
  const features = emitImportedBody(m, imported, adaptInput(m.g, x, imported.inputShape));
  return features.rank > 2 ? m.g.flatten(features, 1) : features;
}

/** Images of the data's size and channels made the model's: grey to RGB by repetition, then a bilinear resize. */
function adaptInput(g: Graph, x: Value, [c, h, w]: [number, number, number]): Value {
  let y = x;
  const channels = Number(x.shape[1]);
  if (channels !== c) {
    if (channels !== 1) throw new ArgumentError(`the data has ${channels} channels and the imported model takes ${c}; only 1-channel data is repeated to fit`);
    y = g.concat(Array.from({ length: c }, () => y), 1);
  }
  if (Number(x.shape[2]) !== h || Number(x.shape[3]) !== w) y = g.resize(y, [h, w]);
  return y;
}

/** A kept head must already have the width the loss reads. */
function checkKeptHead(out: Value, head: HeadSpec, imported: ImportedModel): Value {
  const want = head.kind === 'logits' ? head.classes : head.kind === 'embedding' ? head.dim : head.classes - 1;
  if (out.rank !== 2 || out.shape[1] !== want) {
    throw new ArgumentError(`${imported.options.path}: output '${imported.outputName}' is ${out}, but the loss reads ${want} values per example; use ;head=replace`);
  }
  return out;
}

function attachHead(m: ModelBuilder, h: Value, head: HeadSpec): Value {
  const g = m.g;
  const features = Number(h.shape[1]);
  switch (head.kind) {
    case 'logits':
      return m.dense('head', h, head.classes, 'xavier-uniform');
    case 'thresholds':
      return m.dense('head', h, head.classes - 1, 'xavier-uniform');
    case 'embedding':
      return m.dense('head', h, head.dim, 'xavier-uniform');
    case 'coral': {
      const w = m.param('head.weight', [features, 1], 'xavier-uniform', features, 1);
      const b = m.param('head.thresholds', [head.classes - 1], 'coral-bias', features, head.classes - 1);
      return g.add(g.matMul(h, w), b);
    }
  }
}
