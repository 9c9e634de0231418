import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LossgraphError } from '../src/errors.ts';
import { Graph } from '../src/graph/graph.ts';
import { CUDA_INSTALL_HINT, Session } from '../src/runtime/session.ts';
import { assertCudaInstalled, assertProvider } from '../src/runtime/node.ts';

function softmaxModel(): Uint8Array {
  const g = new Graph('softmax');
  g.output(g.softmax(g.input('x', 'float32', ['batch', 3]), 1), 'y');
  return g.toBytes();
}

test('a session runs from model bytes and from a path, on node and web', async () => {
  const bytes = softmaxModel();
  const path = join(mkdtempSync(join(tmpdir(), 'lossgraph-')), 'm.onnx');
  writeFileSync(path, bytes);
  for (const [model, runtime] of [[bytes, 'node'], [path, 'node'], [bytes, 'web']] as const) {
    const s = await Session.create(model, { runtime });
    const y = (await s.run({ x: s.tensor('float32', new Float32Array([0, 0, 0, 1, 2, 3]), [2, 3]) }))['y']!.data as Float32Array;
    assert.ok(Math.abs(y[0]! - 1 / 3) < 1e-6);
    assert.ok(Math.abs(y[5]! - Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3))) < 1e-6);
    await s.release();
  }
});

test('asking for CUDA without its provider library fails with one line saying how to install it', async (t) => {
  let installed = true;
  try {
    assertCudaInstalled();
  } catch {
    installed = false;
  }
  if (installed) {
    t.skip('the CUDA provider is installed here');
    return;
  }
  // Node entry points check before creating sessions (assertProvider); a session asked for CUDA directly fails with the hint too.
  assert.throws(() => assertProvider('cuda'), (e: Error) => e instanceof LossgraphError && e.message === CUDA_INSTALL_HINT);
  await assert.rejects(Session.create(softmaxModel(), { ep: 'cuda' }), (e: Error) => {
    assert.ok(e instanceof LossgraphError);
    assert.ok(e.message.endsWith(CUDA_INSTALL_HINT), e.message);
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, /npm run install:cuda/);
    return true;
  });
});

test('a model the runtime cannot load fails with one line', async () => {
  await assert.rejects(Session.create(new Uint8Array([1, 2, 3, 4])), (e: Error) => e instanceof LossgraphError && !e.message.includes('\n'));
});
