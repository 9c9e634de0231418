// Seed 003's coarse-level term, for any level of a class hierarchy: the
// cross-entropy of the coarse class computed from the fine logits, where
//   log P(group g) = logsumexp_{k in g} z_k - logsumexp_k z_k.
// Each group's log-sum-exp shifts by its own maximum, so it stays exact where
// the log of a sum of probabilities would round to log 0. Seed 003's loss is
// `w*ce + (1-w)*hierarchical`; a 3-level loss sums one term per level.
import { LossgraphError } from '../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';
import { atLabel, choiceArg, logSumExp, required, sampleMean } from './common.ts';
import type { LossDefinition } from './types.ts';

/** Checks a fine-class -> group map; returns the number of groups. */
export function validateGroups(groups: readonly number[], classes: number, where: string): number {
  if (groups.length !== classes) throw new LossgraphError(`${where}: ${groups.length} group entries for ${classes} classes`);
  groups.forEach((v, k) => {
    if (!Number.isInteger(v) || v < 0) throw new LossgraphError(`${where}[${k}] = ${v} is not a group index (an integer >= 0)`);
  });
  const n = groups.reduce((a, b) => Math.max(a, b), -1) + 1;
  for (let gi = 0; gi < n; gi++) {
    if (!groups.includes(gi)) throw new LossgraphError(`${where}: group ${gi} has no classes (groups must be numbered 0..${n - 1})`);
  }
  return n;
}

/**
 * Coarse log-probabilities [B, G] from fine logits [B, K]. The logits are
 * gathered group by group into [B, G, S] (S: the largest group; shorter
 * groups padded with -1e30, far below any logit, rather than -inf, which
 * ONNX Runtime's ReduceLogSumExp mishandles in rows that mix it with large
 * negative values), so each group's log-sum-exp shifts by its own maximum at
 * the cost of one pass over B x (G S) values. (Masking a [B, G, K] copy of the
 * logits, our first form, cost G times that: 0.57 s and 1.7 GB at B = 256,
 * K = 32000, G = 10.)
 */
export function groupLogProbs(g: Graph, logits: Value, groups: readonly number[]): Value {
  const n = groups.reduce((a, b) => Math.max(a, b), -1) + 1;
  const k = groups.length;
  const members: number[][] = Array.from({ length: n }, () => []);
  groups.forEach((gi, cls) => members[gi]!.push(cls));
  const widest = members.reduce((a, m) => Math.max(a, m.length), 0);
  // Index k is the padding column appended to the logits.
  const order = members.flatMap((m) => [...m, ...Array<number>(widest - m.length).fill(k)]);
  const padded = members.some((m) => m.length < widest);
  const source = padded ? g.concat([logits, g.add(g.zerosLike(g.slice(logits, [0], [1], [1])), -1e30)], 1) : logits;
  // Classes already in group order (contiguous groups of one size) need no Gather.
  const inOrder = !padded && order.every((c, i) => c === i);
  const grouped = g.reshape(inOrder ? logits : g.gather(source, g.constant('int64', [order.length], order), 1), [0, n, widest]); // [B, G, S]
  return g.sub(logSumExp(g, grouped, 2, false), logSumExp(g, logits, 1, true));
}

export const hierarchical: LossDefinition = {
  name: 'hierarchical',
  summary: 'cross-entropy of a coarser level of a class hierarchy, from the fine logits (seed 003)',
  head: 'logits',
  needs: ['hierarchy'],
  args: [{ name: 'level', kind: 'choice', default: '', doc: 'which level of the hierarchy (default: the only one)' }],
  build(ctx, args) {
    const { g, logits, labels, classes } = ctx;
    const levels = required(ctx, 'hierarchical', 'hierarchy');
    const names = Object.keys(levels);
    let level = choiceArg(args, 'level');
    if (level === '') {
      if (names.length !== 1) throw new LossgraphError(`hierarchical: name a level (level=...); this hierarchy has ${names.join(', ')}`);
      level = names[0]!;
    }
    const groups = Object.hasOwn(levels, level) ? levels[level] : undefined;
    if (!groups) throw new LossgraphError(`hierarchical: unknown level '${level}'; known levels: ${names.join(', ')}`);
    validateGroups(groups, classes, `hierarchy level '${level}'`);
    const coarseLabels = g.gather(g.constant(labels.dtype, [classes], groups), labels, 0);
    return sampleMean(ctx, g.neg(atLabel(g, groupLogProbs(g, logits, groups), coarseLabels)));
  },
};
