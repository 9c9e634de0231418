// Seed 002's min-max loss: a trainable class-embedding table E [K, D]. Pull
// each sample's embedding f(x) towards the embeddings of its classes and push
// the class embeddings apart:
//
//   loss = pull + lambda * push
//
// T is one-hot labels, or multi-hot `targets` (labels=multi) for samples in
// several classes.
//   cosine, push=spread (default):
//           pull = sum_{b,k} T_bk (1 - cos(f_b, E_k)) / sum T
//           push = log mean_{i != j} exp(4 (cos(E_i, E_j) - 1)), a smooth
//           maximum of the pairwise cosines (the "uniformity" loss of Wang &
//           Isola 2020), minimised by classes spread evenly over the sphere.
//           A push linear in the cosines would depend only on |sum_k E_k / |E_k||
//           and be as happy with classes merged in antipodal pairs as with a
//           regular simplex.
//   cosine, push=seed: seed 002's code, squared errors: pull (cos(f_b, E_y) - 1)^2,
//           push (cos(E_y, E_j) + 1)^2 for another class j, which the seed draws
//           at random per sample; here its expectation over j (no sampling noise).
//   l2:     D = squared distance; pull = sum T D / sum T; push = mean_{i != j}
//           relu(margin - D(E_i, E_j)), a margin in place of the seed's norm
//           constraint (an unbounded push would diverge).
// Prediction: per-class scores sigmoid(5 cos(f, E_k)), on above 0.5 (the seed's
// scale and threshold), several classes at once for multi-label data; the
// class is the nearest embedding under the loss's distance.
import { LossgraphError } from '../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';
import { choiceArg, divideOrZero, hyperArg, oneHot, required } from './common.ts';
import type { LossDefinition, PredictContext } from './types.ts';

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

/** Sharpness of the spread push: exp(4 (cos - 1)) = exp(-2 |u - v|^2) for unit u, v. */
const SPREAD_SHARPNESS = 4;

export const minmax: LossDefinition = {
  name: 'minmax',
  summary: 'min-max embedding loss (seed 002): pull samples to their class embeddings, push class embeddings apart',
  head: 'embedding',
  needs: ['embeddings'],
  args: [
    { name: 'distance', kind: 'choice', default: 'cosine', choices: ['cosine', 'l2'], doc: 'distance between embeddings' },
    { name: 'lambda', kind: 'hyper', default: 1, range: { min: 0 }, doc: 'weight of the push term' },
    { name: 'margin', kind: 'hyper', default: 4, range: { min: 0 }, doc: 'l2 only: class pairs closer than this (squared distance) are pushed' },
    { name: 'push', kind: 'choice', default: 'spread', choices: ['spread', 'seed'], doc: "cosine only: 'spread' (smooth max of pairwise cosines) or 'seed' (seed 002's squared terms)" },
    { name: 'labels', kind: 'choice', default: 'single', choices: ['single', 'multi'], doc: "'multi': multi-hot targets, several classes per sample" },
  ],
  needsWhen: (fixed) => (fixed.labels === 'multi' ? ['targets'] : []),
  build(ctx, args) {
    const { g, logits: f, labels, classes } = ctx;
    const e = required(ctx, 'minmax', 'embeddings');
    const dt = f.dtype;
    const multi = choiceArg(args, 'labels') === 'multi';
    const t = g.mul(multi ? required(ctx, 'minmax', 'targets') : oneHot(g, labels, classes, dt), g.unsqueeze(ctx.keep, [1]));
    const mass = g.reduceSum(t, undefined, false);
    const cosine = choiceArg(args, 'distance') === 'cosine';
    const seed = choiceArg(args, 'push') === 'seed';
    if (seed && !cosine) throw new LossgraphError("minmax: push=seed is defined for distance=cosine only (l2 pushes with a margin)");
    const offDiagonal = g.constant(dt, [classes, classes], Array.from({ length: classes * classes }, (_, i) => (i % (classes + 1) === 0 ? 0 : 1)));
    const pairs = classes * (classes - 1);
    const lambda = hyperArg(args, 'lambda');
    const sq = (v: Value) => g.mul(v, v);

    if (seed) {
      const pull = divideOrZero(g, g.reduceSum(g.mul(t, sq(g.sub(cosineMatrix(g, f, e), 1))), undefined, false), mass);
      // Each class's push averaged over the other classes, then weighted as the seed samples it: once per (sample, class).
      const perClass = g.div(g.reduceSum(g.mul(sq(g.add(cosineMatrix(g, e, e), 1)), offDiagonal), [1], false), classes - 1);
      const push = divideOrZero(g, g.reduceSum(g.mul(t, perClass), undefined, false), mass);
      return g.add(pull, g.mul(lambda, push));
    }
    const pullD = cosine ? g.sub(g.scalar(1, dt), cosineMatrix(g, f, e)) : sqDistMatrix(g, f, e);
    const pull = divideOrZero(g, g.reduceSum(g.mul(t, pullD), undefined, false), mass);
    let push: Value;
    if (cosine) {
      const similarity = g.exp(g.mul(g.sub(cosineMatrix(g, e, e), 1), SPREAD_SHARPNESS));
      push = g.log(g.div(g.reduceSum(g.mul(similarity, offDiagonal), undefined, false), pairs));
    } else {
      const hinge = g.relu(g.sub(hyperArg(args, 'margin'), sqDistMatrix(g, e, e)));
      push = g.div(g.reduceSum(g.mul(hinge, offDiagonal), undefined, false), pairs);
    }
    return g.add(pull, g.mul(lambda, push));
  },
  predict: ({ g, out, embeddings, fixed }: PredictContext) => {
    const { scores } = minmaxScores(g, out, embeddings!);
    return { probabilities: scores, class: minmaxNearest(g, out, embeddings!, fixed.distance === 'l2' ? 'l2' : 'cosine') };
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
