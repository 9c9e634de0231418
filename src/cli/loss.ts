// `lossgraph loss`: evaluates a loss spec and its gradient w.r.t. the logits on
// JSON input, by running the emitted loss graph and its autodiff gradient in
// onnxruntime-node (float64), not by JavaScript arithmetic.
import { grad } from '../autograd/grad.ts';
import { LossgraphError } from '../errors.ts';
import { Graph } from '../graph/graph.ts';
import type { Dim } from '../graph/shape.ts';
import { buildLoss } from '../losses/compile.ts';
import { parseLossSpec, type LossSpec } from '../losses/loss_spec.ts';
import { validateGroups } from '../losses/hierarchical.ts';
import type { LossContext } from '../losses/types.ts';
import { Session } from '../runtime/session.ts';
import { checkTargets } from '../losses/targets.ts';

export interface LossProbeInput {
  logits: number[][];
  labels: number[];
  targets?: number[][];
  weights?: number[];
  /** Importance weights of the K-1 ordinal thresholds (coral, corn). */
  importance?: number[];
  /** Level name -> group of each fine class ("groups" may be one array: level 'coarse'). */
  hierarchy?: Record<string, number[]>;
  embeddings?: number[][];
  params?: Record<string, number>;
}

export interface LossProbeResult {
  loss: number;
  grad: number[][];
}

function matrix(v: unknown, name: string, rows?: number, cols?: number): number[][] {
  if (!Array.isArray(v) || v.length === 0) throw new LossgraphError(`"${name}" must be a non-empty array of rows of numbers`);
  if (rows !== undefined && v.length !== rows) throw new LossgraphError(`"${name}" has ${v.length} rows, expected ${rows}`);
  const width = cols ?? (Array.isArray(v[0]) ? v[0].length : -1);
  v.forEach((row, i) => {
    if (!Array.isArray(row)) throw new LossgraphError(`${name}[${i}] is not an array of numbers`);
    if (row.length !== width) {
      throw new LossgraphError(cols === undefined
        ? `${name}[${i}] has ${row.length} values but ${name}[0] has ${width}: every row needs one value per class`
        : `${name}[${i}] has ${row.length} values, expected ${cols}`);
    }
    row.forEach((x, j) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new LossgraphError(`${name}[${i}][${j}] is not a finite number`);
    });
  });
  if (width < 1) throw new LossgraphError(`${name} rows must not be empty`);
  return v as number[][];
}

/** Validates the probe's JSON shape; value ranges that depend on the spec are checked by probeClasses. */
export function parseProbeInput(text: string): LossProbeInput {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new LossgraphError(`stdin is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new LossgraphError('stdin must be a JSON object {"logits": [[...], ...], "labels": [...]}');
  }
  const d = data as Record<string, unknown>;
  const logits = matrix(d.logits, 'logits');
  const b = logits.length;
  if (!Array.isArray(d.labels)) throw new LossgraphError('"labels" must be an array of class indices, one per row of logits');
  if (d.labels.length !== b) throw new LossgraphError(`${d.labels.length} labels for ${b} rows of logits`);
  d.labels.forEach((y, i) => {
    if (typeof y !== 'number' || !Number.isInteger(y)) throw new LossgraphError(`labels[${i}] = ${JSON.stringify(y)} is not an integer class index`);
  });
  const out: LossProbeInput = { logits, labels: d.labels as number[] };
  if (d.targets !== undefined) out.targets = matrix(d.targets, 'targets', b);
  if (d.embeddings !== undefined) out.embeddings = matrix(d.embeddings, 'embeddings', undefined, logits[0]!.length);
  if (d.weights !== undefined) {
    if (!Array.isArray(d.weights) || d.weights.some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0)) {
      throw new LossgraphError('"weights" must be an array of non-negative class weights, one per class');
    }
    out.weights = d.weights as number[];
  }
  if (d.importance !== undefined) {
    if (!Array.isArray(d.importance) || d.importance.some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0)) {
      throw new LossgraphError('"importance" must be an array of non-negative weights, one per ordinal threshold (K-1)');
    }
    out.importance = d.importance as number[];
  }
  if (d.groups !== undefined) {
    const levels = Array.isArray(d.groups) ? { coarse: d.groups } : d.groups;
    if (typeof levels !== 'object' || levels === null) throw new LossgraphError('"groups" must be an array (the group of each class) or an object of such arrays by level name');
    out.hierarchy = {};
    for (const [name, groups] of Object.entries(levels)) {
      if (!Array.isArray(groups)) throw new LossgraphError(`"groups.${name}" must be an array with the group of each class`);
      out.hierarchy[name] = groups as number[];
    }
  }
  if (d.params !== undefined) {
    if (typeof d.params !== 'object' || d.params === null || Object.values(d.params).some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      throw new LossgraphError('"params" must be an object of numbers, e.g. {"w": 0.7}');
    }
    out.params = d.params as Record<string, number>;
  }
  return out;
}

/** Number of classes K implied by the input and the spec's head; checks labels and per-class arrays against it. */
export function probeClasses(spec: LossSpec, input: LossProbeInput): number {
  const width = input.logits[0]!.length;
  const k = spec.head === 'thresholds' ? width + 1 : spec.head === 'embedding' ? input.embeddings?.length ?? 0 : width;
  // As training refuses it: with one class there is nothing to classify (sparse_lsr and minmax divide by K - 1).
  if (k < 2) throw new LossgraphError(`the input has ${k} class${k === 1 ? '' : 'es'}; a loss needs at least 2 (logits rows of width ${spec.head === 'thresholds' ? 1 : 2} or more)`);
  if (spec.head === 'embedding' && !input.embeddings) throw new LossgraphError(`loss spec '${spec.text}' needs "embeddings": the class embedding table (K x D)`);
  input.labels.forEach((y, i) => {
    if ((y < 0 || y >= k) && y !== spec.ignoreIndex) throw new LossgraphError(`labels[${i}] = ${y} is out of range: with ${k} classes a label is 0..${k - 1}`);
  });
  if (input.targets && input.targets[0]!.length !== k) throw new LossgraphError(`"targets" rows have ${input.targets[0]!.length} values, expected one per class (${k})`);
  if (input.targets) checkTargets(spec, input.targets.flat(), k, (r) => `"targets"[${r}]`);
  if (input.weights && !spec.readsClassWeights) throw new LossgraphError(`"weights": no term of '${spec.text}' reads class weights (ce, label_smoothing and focal do)`);
  if (input.weights && input.weights.length !== k) throw new LossgraphError(`"weights" has ${input.weights.length} values, expected one per class (${k})`);
  if (input.importance && input.importance.length !== k - 1) throw new LossgraphError(`"importance" has ${input.importance.length} values, expected one per threshold (${k - 1})`);
  for (const [level, groups] of Object.entries(input.hierarchy ?? {})) validateGroups(groups, k, `groups${level === 'coarse' ? '' : `.${level}`}`);
  for (const need of spec.needs) {
    const present = { targets: input.targets, weights: input.weights, hierarchy: input.hierarchy, embeddings: input.embeddings }[need];
    if (!present) throw new LossgraphError(`loss spec '${spec.text}' needs "${need === 'hierarchy' ? 'groups' : need}" in the input`);
  }
  return k;
}

export interface ProbeGraphOptions {
  targets?: boolean;
  weights?: boolean;
  importance?: boolean;
  hierarchy?: Record<string, number[]>;
  /** Embedding size D, for embedding losses (the table is an input [K, D]). */
  embeddingDim?: number;
  params?: Record<string, number>;
  /** float64 (default, what the probe prints) or float32 (what training uses). */
  dtype?: 'float32' | 'float64';
}

/** The loss graph with d(loss)/d(logits) appended. */
export function lossProbeGraph(specOrText: string | LossSpec, batch: Dim, classes: number, o: ProbeGraphOptions = {}) {
  const spec = typeof specOrText === 'string' ? parseLossSpec(specOrText) : specOrText;
  const dt = o.dtype ?? 'float64';
  const g = new Graph('loss');
  const width = spec.head === 'thresholds' ? classes - 1 : spec.head === 'embedding' ? o.embeddingDim ?? 0 : classes;
  const ctx: LossContext = {
    g,
    logits: g.input('logits', dt, [batch, width]),
    labels: g.input('labels', 'int64', [batch]),
    classes,
  };
  if (o.targets) ctx.targets = g.input('targets', dt, [batch, classes]);
  if (o.weights) ctx.weights = g.input('weights', dt, [classes]);
  if (o.importance) ctx.importance = g.input('importance', dt, [classes - 1]);
  if (o.hierarchy) ctx.hierarchy = o.hierarchy;
  if (spec.head === 'embedding') ctx.embeddings = g.input('embeddings', dt, [classes, width]);
  const { loss, hyperparameters } = buildLoss(spec, ctx, { params: o.params });
  const [dLogits] = grad(g, loss, [ctx.logits]);
  g.output(loss, 'loss');
  g.output(dLogits!, 'grad');
  return { graph: g, hyperparameters };
}

export async function runLossProbe(
  specText: string,
  input: LossProbeInput,
  params: Record<string, number> = {},
  dtype: 'float32' | 'float64' = 'float64',
): Promise<LossProbeResult> {
  const spec = parseLossSpec(specText);
  const k = probeClasses(spec, input);
  const b = input.logits.length;
  const w = input.logits[0]!.length;
  const { graph, hyperparameters } = lossProbeGraph(spec, b, k, {
    targets: input.targets !== undefined,
    weights: input.weights !== undefined,
    importance: input.importance !== undefined,
    hierarchy: input.hierarchy,
    embeddingDim: w,
    params: { ...input.params, ...params },
    dtype,
  });
  const session = await Session.create(graph.toBytes());
  const Typed = dtype === 'float64' ? Float64Array : Float32Array;
  const f64 = (rows: number[][] | number[], dims: number[]) => session.tensor(dtype, Typed.from(rows.flat()), dims);
  const feeds = Session.feeds({
    logits: f64(input.logits, [b, w]),
    labels: session.tensor('int64', BigInt64Array.from(input.labels, (y) => BigInt(y)), [b]),
  });
  if (input.targets) feeds.targets = f64(input.targets, [b, k]);
  if (input.weights) feeds.weights = f64(input.weights, [k]);
  if (input.importance) feeds.importance = f64(input.importance, [k - 1]);
  if (spec.head === 'embedding') feeds.embeddings = f64(input.embeddings!, [k, w]);
  for (const h of hyperparameters) feeds[h.name] = f64([h.default], []);
  const out = await session.run(feeds);
  await session.release();
  const g = out['grad']!.data as Float64Array | Float32Array;
  const loss = (out['loss']!.data as Float64Array | Float32Array)[0]!;
  // A non-finite result is an error, not JSON null with exit 0.
  if (!Number.isFinite(loss)) throw new LossgraphError(`the loss of '${spec.text}' is ${loss} for this input (a weight or argument overflows, or logits beyond the float range)`);
  const bad = g.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new LossgraphError(`the gradient of '${spec.text}' is ${g[bad]} at logits[${Math.floor(bad / w)}][${bad % w}] for this input`);
  return {
    loss,
    grad: Array.from({ length: b }, (_, i) => Array.from(g.subarray(i * w, (i + 1) * w))),
  };
}
