// The README's TypeScript example, through the package entry point.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, grad } from '../src/index.ts';

test('the README example builds, differentiates and runs', async () => {
  const g = new Graph('example');
  const logits = g.input('logits', 'float32', ['batch', 10]);
  const labels = g.input('labels', 'int64', ['batch']);
  const logp = g.logSoftmax(logits, 1);
  const loss = g.neg(g.reduceMean(g.gatherElements(logp, g.unsqueeze(labels, [1]), 1)));
  const [dLogits] = grad(g, loss, [logits]);
  g.output(loss, 'loss');
  g.output(dLogits!, 'dlogits');
  const session = await Session.create(g.toBytes());
  const out = await session.run({
    logits: session.tensor('float32', new Float32Array(20), [2, 10]),
    labels: session.tensor('int64', new BigInt64Array([3n, 7n]), [2]),
  });
  assert.ok(Math.abs((out['loss']!.data as Float32Array)[0]! - Math.log(10)) < 1e-6);
  const d = out['dlogits']!.data as Float32Array;
  assert.ok(Math.abs(d[3]! - (0.1 - 1) / 2) < 1e-7 && Math.abs(d[0]! - 0.05) < 1e-7);
});
