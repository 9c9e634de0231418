// `lossgraph loss`: evaluates a loss and its gradient w.r.t. the logits on
// JSON input, by running the emitted loss graph and its autodiff gradient in
// onnxruntime-node (float64), not by JavaScript arithmetic.
import { grad } from '../autograd/grad.ts';
import { LossgraphError } from '../errors.ts';
import { Graph } from '../graph/graph.ts';
import type { Dim } from '../graph/shape.ts';
import { lossFromSpec } from '../losses/registry.ts';
import { Session } from '../runtime/session.ts';

export interface LossProbeInput {
  logits: number[][];
  labels: number[];
}

export interface LossProbeResult {
  loss: number;
  grad: number[][];
}

/** Validates the probe's JSON; every problem is one line naming the field and index. */
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
  const { logits, labels } = data as Record<string, unknown>;
  if (!Array.isArray(logits) || logits.length === 0) throw new LossgraphError('"logits" must be a non-empty B x K array of numbers');
  const k = Array.isArray(logits[0]) ? logits[0].length : -1;
  logits.forEach((row, i) => {
    if (!Array.isArray(row)) throw new LossgraphError(`logits[${i}] is not an array of numbers`);
    if (row.length !== k) throw new LossgraphError(`logits[${i}] has ${row.length} values but logits[0] has ${k}: every row needs one value per class`);
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new LossgraphError(`logits[${i}][${j}] is not a finite number`);
    });
  });
  if (k < 1) throw new LossgraphError('logits rows must have at least one class');
  if (!Array.isArray(labels)) throw new LossgraphError('"labels" must be an array of class indices, one per row of logits');
  if (labels.length !== logits.length) throw new LossgraphError(`${labels.length} labels for ${logits.length} rows of logits`);
  labels.forEach((y, i) => {
    if (typeof y !== 'number' || !Number.isInteger(y)) throw new LossgraphError(`labels[${i}] = ${JSON.stringify(y)} is not an integer class index`);
    if (y < 0 || y >= k) throw new LossgraphError(`labels[${i}] = ${y} is out of range: with ${k} classes a label is 0..${k - 1}`);
  });
  return { logits: logits as number[][], labels: labels as number[] };
}

/** The loss graph with d(loss)/d(logits) appended, in float64. */
export function lossProbeGraph(spec: string, batch: Dim, classes: number): Graph {
  const loss = lossFromSpec(spec);
  const g = new Graph(`loss_${loss.name}`);
  const logits = g.input('logits', 'float64', [batch, classes]);
  const labels = g.input('labels', 'int64', [batch]);
  const value = loss.build(g, { logits, labels });
  const [dLogits] = grad(g, value, [logits]);
  g.output(value, 'loss');
  g.output(dLogits!, 'grad');
  return g;
}

export async function runLossProbe(spec: string, input: LossProbeInput): Promise<LossProbeResult> {
  const b = input.logits.length;
  const k = input.logits[0]!.length;
  const session = await Session.create(lossProbeGraph(spec, b, k).toBytes());
  const out = await session.run({
    logits: session.tensor('float64', Float64Array.from(input.logits.flat()), [b, k]),
    labels: session.tensor('int64', BigInt64Array.from(input.labels, (y) => BigInt(y)), [b]),
  });
  await session.release();
  const g = out['grad']!.data as Float64Array;
  return {
    loss: (out['loss']!.data as Float64Array)[0]!,
    grad: Array.from({ length: b }, (_, i) => Array.from(g.subarray(i * k, (i + 1) * k))),
  };
}
