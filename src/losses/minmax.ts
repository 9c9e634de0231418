// Seed 002's min-max loss: a trainable class-embedding table E [K, D]. Pull
// each sample's embedding f(x) towards the embeddings of its classes and push
// the class embeddings apart:
//
//   loss = sum_{b,k} T_bk D(f_b, E_k) / sum T  +  push
//
// T is one-hot labels, or multi-hot `targets` for samples in several classes.
//   cosine: D = 1 - cos; push = -lambda * mean_{i != j} D(E_i, E_j). D is
//           bounded, so maximising it needs no constraint.
//   l2:     D = squared distance; push = lambda * mean_{i != j} relu(margin - D(E_i, E_j)),
//           a margin in place of the seed's norm constraint (an unbounded push
//           would diverge).
// Prediction: minmaxScores turns on class k when sigmoid(scale * cos(f, E_k)) >
// threshold (the seed uses scale 5 and threshold 0.5), several classes at once
// for multi-label data; minmaxNearest picks the single nearest class embedding.
import type { Graph, Value } from '../graph/graph.ts';
import { choiceArg, hyperArg, oneHot, required } from './common.ts';
import type { LossDefinition } from './types.ts';

/** Rows scaled to unit length (with a floor so a zero row stays finite). */
function unitRows(g: Graph, x: Value): Value {
  return g.div(x, g.sqrt(g.add(g.reduceSum(g.mul(x, x), [1], true), 1e-12)));
}

/** Cosine similarity of every row of a [N, D] with every row of b [M, D]: [N, M]. */
export function cosineMatrix(g: Graph, a: Value, b: Value): Value {
  return g.matMul(unitRows(g, a), g.transpose(unitRows(g, b), [1, 0]));
}

/** Squared Euclidean distances [N, M] between rows. */
export function sqDistMatrix(g: Graph, a: Value, b: Value): Value {
  const aa = g.reduceSum(g.mul(a, a), [1], true);
  const bb = g.transpose(g.reduceSum(g.mul(b, b), [1], true), [1, 0]);
  return g.relu(g.sub(g.add(aa, bb), g.mul(g.matMul(a, g.transpose(b, [1, 0])), 2)));
}

export const minmax: LossDefinition = {
  name: 'minmax',
  summary: 'min-max embedding loss (seed 002): pull samples to their class embeddings, push class embeddings apart',
  head: 'embedding',
  needs: ['embeddings'],
  args: [
    { name: 'distance', kind: 'choice', default: 'cosine', choices: ['cosine', 'l2'], doc: 'distance between embeddings' },
    { name: 'lambda', kind: 'hyper', default: 1, doc: 'weight of the push term' },
    { name: 'margin', kind: 'hyper', default: 4, doc: 'l2 only: class pairs closer than this (squared distance) are pushed' },
  ],
  build(ctx, args) {
    const { g, logits: f, labels, classes } = ctx;
    const e = required(ctx, 'minmax', 'embeddings');
    const dt = f.dtype;
    const t = ctx.targets ?? oneHot(g, labels, classes, dt);
    const cosine = choiceArg(args, 'distance') === 'cosine';
    const pullD = cosine ? g.sub(g.scalar(1, dt), cosineMatrix(g, f, e)) : sqDistMatrix(g, f, e);
    const pull = g.div(g.reduceSum(g.mul(t, pullD), undefined, false), g.reduceSum(t, undefined, false));
    const offDiagonal = g.constant(dt, [classes, classes], Array.from({ length: classes * classes }, (_, i) => (i % (classes + 1) === 0 ? 0 : 1)));
    const pairs = classes * (classes - 1);
    const lambda = hyperArg(args, 'lambda');
    const pairD = cosine ? g.sub(g.scalar(1, dt), cosineMatrix(g, e, e)) : sqDistMatrix(g, e, e);
    const pairTerm = cosine ? g.neg(pairD) : g.relu(g.sub(hyperArg(args, 'margin'), pairD));
    const push = g.div(g.reduceSum(g.mul(pairTerm, offDiagonal), undefined, false), pairs);
    return g.add(pull, g.mul(lambda, push));
  },
};

/** Per-class scores in [0, 1] and on/off decisions [B, K] (multi-label prediction). */
export function minmaxScores(g: Graph, f: Value, e: Value, o: { scale?: number; threshold?: number } = {}): { scores: Value; on: Value } {
  const scores = g.sigmoid(g.mul(cosineMatrix(g, f, e), o.scale ?? 5));
  return { scores, on: g.greater(scores, o.threshold ?? 0.5) };
}

/** The class whose embedding is nearest to each sample's: [B] int64. */
export function minmaxNearest(g: Graph, f: Value, e: Value, distance: 'cosine' | 'l2' = 'cosine'): Value {
  return distance === 'cosine' ? g.argMax(cosineMatrix(g, f, e), 1) : g.argMax(g.neg(sqDistMatrix(g, f, e)), 1);
}
