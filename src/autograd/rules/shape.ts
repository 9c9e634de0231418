// Ops that move or copy elements without arithmetic.
import { registerGradient, registerNoGradient } from '../registry.ts';
import { sliceRange } from '../../graph/graph.ts';
import { intAttr, intsAttr, knownInts, refuse, reshapeLike } from './util.ts';

registerGradient('Reshape', ({ g, x, dy }) => [reshapeLike(g, dy[0]!, x[0]!)]);
registerGradient('Flatten', ({ g, x, dy }) => [reshapeLike(g, dy[0]!, x[0]!)]);
registerGradient('Squeeze', ({ g, x, dy }) => [reshapeLike(g, dy[0]!, x[0]!)]);
registerGradient('Unsqueeze', ({ g, x, dy }) => [reshapeLike(g, dy[0]!, x[0]!)]);

registerGradient('Transpose', ({ g, node, x, dy }) => {
  const perm = intsAttr(node, 'perm') ?? x[0]!.shape.map((_, i) => x[0]!.rank - 1 - i);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return [g.transpose(dy[0]!, inverse)];
});

// Expand is pure broadcasting: the core sums the gradient back to the input's shape.
registerGradient('Expand', ({ dy }) => [dy[0]]);

registerGradient('Concat', ({ g, node, x, dy, needs }) => {
  const axis = intAttr(node, 'axis', 0);
  let offset = 0;
  return x.map((v, i) => {
    const len = v!.shape[axis];
    if (typeof len !== 'number') refuse(node, `input ${i} has a symbolic length along the concat axis`);
    const start = offset;
    offset += len;
    return needs[i] ? g.slice(dy[0]!, [start], [start + len], [axis]) : undefined;
  });
});

// The input gradient is dy placed back where the slice came from, zeros elsewhere:
// one Pad for unit steps, and for other steps a Gather from dy padded with a zero.
registerGradient('Slice', ({ g, node, x, dy }) => {
  const data = x[0]!;
  const starts = knownInts(node, x[1], 'starts')!;
  const ends = knownInts(node, x[2], 'ends')!;
  const axes = (knownInts(node, x[3], 'axes') ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + data.rank : a));
  const steps = knownInts(node, x[4], 'steps') ?? starts.map(() => 1);
  const pads = Array(2 * data.rank).fill(0);
  let d = dy[0]!;
  axes.forEach((a, i) => {
    const dim = data.shape[a]!;
    if (typeof dim !== 'number') refuse(node, `axis ${a} has a symbolic length`);
    const r = sliceRange(dim, starts[i]!, ends[i]!, steps[i]!)!;
    if (steps[i] === 1) {
      pads[a] = r.start;
      pads[a + data.rank] = dim - r.start - r.count;
      return;
    }
    const onePad = Array(2 * d.rank).fill(0);
    onePad[a + d.rank] = 1;
    const map = Array(dim).fill(r.count);
    for (let k = 0; k < r.count; k++) map[r.start + k * steps[i]!] = k;
    d = g.gather(g.pad(d, onePad), g.ints(map), a);
  });
  return [pads.some((p) => p !== 0) ? g.pad(d, pads) : d];
});

registerGradient('Pad', ({ g, node, x, dy }) => {
  if (x[3]) refuse(node, 'the axes input is not supported');
  const mode = node.attrs.mode;
  if (mode && mode.kind === 'string' && mode.value !== 'constant') refuse(node, `mode '${mode.value}'`);
  const pads = knownInts(node, x[1], 'pads')!;
  const rank = x[0]!.rank;
  if (pads.some((p) => p < 0)) refuse(node, 'negative pads');
  const axes = [...Array(rank).keys()].filter((a) => pads[a] !== 0 || pads[a + rank] !== 0);
  const starts = axes.map((a) => pads[a]!);
  const ends = axes.map((a) => -pads[a + rank]! || 2 ** 62);
  return [g.slice(dy[0]!, starts, ends, axes)];
});

// Shapes, sizes and index ranges are integers; Resize here only scales data images (no parameter precedes it).
registerNoGradient('Shape', 'Size', 'Range', 'ConstantOfShape', 'Resize');
